import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import StarlingKernel

/// This node's membership in a cluster: the cluster port, the links to every other member (full
/// mesh), failure detection, the replicated route table and forwarding.
///
/// Membership state lives on one event loop (`loop`); links read on their own loops and hand
/// changes over. Each node owns its routes: it streams its adds and deletes to every peer in
/// order, sends a full snapshot when a link comes up, and purges a peer's routes when the peer is
/// declared down or leaves — no consensus needed.
public final class ClusterNode: ClusterAttachment, ClusterControl, @unchecked Sendable {  // mutable state on `loop` only
    /// This node's name, `name@host`.
    public let name: String
    let cookie: String
    let config: ClusterConfig
    let broker: Broker
    let logger: Logger
    let loop: EventLoop
    private let group: EventLoopGroup
    private let incarnation = UInt64.random(in: 1 ... .max)
    let routes = RemoteRouteTable()
    private let forwarder: Forwarder
    private let retained = RetainedReplicator()
    private let clients = ClientRegistry()
    private let store: MemberStore

    /// The bound cluster port (0 until bound).
    public var port: Int { boundPort.load(ordering: .acquiring) }
    private let boundPort = ManagedAtomic<Int>(0)
    private var serverChannel: Channel?
    private var heartbeat: RepeatedTask?
    private var tombstonePruning: RepeatedTask?
    private var stopped = false

    // The local route stream: recorded under the router's lock, drained on `loop`.
    private let pendingOps = NIOLockedValueBox<[RouteOp]>([])
    private let drainScheduled = ManagedAtomic<Bool>(false)
    private var localFilters: Set<String> = []

    private var members: [String: Member] = [:]

    private final class Member {
        var address: NodeAddress
        var link: PeerLink?
        var state = State.connecting
        var dialing = false
        var lastDial = NIODeadline.distantPast

        enum State: String { case up, down, connecting }

        init(address: NodeAddress) { self.address = address }
    }

    private init(name: String, cookie: String, config: ClusterConfig, broker: Broker, group: EventLoopGroup,
                 dataDir: String, logger: Logger) {
        self.name = name
        self.cookie = cookie
        self.config = config
        self.broker = broker
        self.group = group
        self.loop = broker.eventLoops[0]
        self.logger = logger
        self.store = MemberStore(dataDir: dataDir)
        self.forwarder = Forwarder(routes: routes, loops: broker.eventLoops)
    }

    /// Opens the cluster port, attaches to the kernel and dials the remembered members and the
    /// seeds. Logs `cluster listening on HOST:PORT`.
    /// - Throws: `ClusterStartError` when the port cannot be bound.
    public static func start(name: String, config: ClusterConfig, broker: Broker, group: EventLoopGroup,
                             dataDir: String, logger: Logger) async throws -> ClusterNode {
        guard let cookie = config.cookie else { throw ClusterStartError(message: "the cluster needs a cookie") }
        let node = ClusterNode(name: name, cookie: cookie, config: config, broker: broker, group: group,
                               dataDir: dataDir, logger: logger)
        // Attach first: a link admitted as soon as the port opens already has the local routes.
        try await node.loop.submit {
            node.localFilters = Set(broker.attach(cluster: node))
        }.get()
        let host = config.bind ?? NodeAddress(name: name, port: 0).host
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: Forwarder.linkWaterMark)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LinkHandler(node: node, target: nil))
                    }
                }
                .bind(host: host, port: config.port).get()
        } catch {
            throw ClusterStartError(message: "cannot listen on cluster port \(host):\(config.port): \(error)")
        }
        let port = channel.localAddress?.port ?? config.port
        node.boundPort.store(port, ordering: .releasing)
        logger.info("cluster listening on \(host):\(port)", metadata: ["node": "\(name)"])
        try await node.loop.submit {
            node.serverChannel = channel
            var known = node.store.load()
            for seed in config.seeds {
                if let address = NodeAddress(parsing: seed), !known.contains(where: { $0.name == address.name }) {
                    known.append(address)
                }
            }
            for address in known where address.name != name {
                node.members[address.name] = Member(address: address)
            }
            if !known.isEmpty {
                logger.info("cluster: rejoining", metadata: ["members": "\(known.map(\.description).joined(separator: ", "))"])
            }
            node.heartbeat = node.loop.scheduleRepeatedTask(
                initialDelay: .zero, delay: .milliseconds(Int64(config.heartbeatIntervalMilliseconds))) { _ in node.tick() }
            node.tombstonePruning = node.loop.scheduleRepeatedTask(initialDelay: .minutes(10), delay: .minutes(10)) { _ in
                broker.pruneRetainedTombstones()
            }
        }.get()
        return node
    }

    /// Closes every link and the cluster port (peers see the links drop and keep this node as a
    /// member, so it rejoins when it comes back).
    public func stop() async {
        try? await loop.submit { [self] in
            stopped = true
            heartbeat?.cancel()
            tombstonePruning?.cancel()
            for member in members.values { member.link?.retire() }
        }.get()
        try? await serverChannel?.close()
    }

    // MARK: - Handshake support (any loop)

    func hello() -> Hello {
        Hello(name: name, incarnation: incarnation, port: port, nonce: HandshakeProof.nonce())
    }

    func stats(for peer: String) -> PeerStats { forwarder.stats(for: peer) }

    // MARK: - Links (on `loop`)

    /// Dials `address`; `outcome` hears how the handshake ends.
    private func dial(_ address: NodeAddress, outcome: (@Sendable (LinkOutcome) -> Void)? = nil) {
        let member = members[address.name]
        member?.dialing = true
        member?.lastDial = .now()
        let finished: @Sendable (LinkOutcome) -> Void = { [self] result in
            loop.execute {
                guard let member = self.members[address.name] else { return }
                member.dialing = false
                if member.link == nil { member.state = .down }
            }
            outcome?(result)
        }
        let timeout = TimeAmount.milliseconds(Int64(min(max(config.downAfterMilliseconds, 1000), 5000)))
        ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: Forwarder.linkWaterMark)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LinkHandler(node: self, target: address, outcome: finished))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenFailure { error in
                let cause = (error as? NIOConnectionError)?.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
                finished(.failed("cannot reach \(address.name) at \(address.host):\(address.port): \(cause)"))
            }
    }

    /// A link finished its handshake: keep it (and tell the peer what it needs) or refuse it.
    /// Returns the refusal, which has then been sent.
    func admit(_ link: PeerLink, peer: PeerIdentity) -> (RefuseReason, String)? {
        let peerName = peer.address.name
        if stopped {
            link.send(.refuse(.notClustered, message: "\(name) is shutting down"))
            link.retire()
            return (.notClustered, "\(name) is shutting down")
        }
        let member = members[peerName] ?? Member(address: peer.address)
        if let existing = member.link, existing !== link, existing.channel.isActive {
            if existing.peer.load()?.incarnation == peer.incarnation {
                // Both sides dialled at once: keep the link dialled by the smaller name, on both sides.
                let newDialer = link.dialled ? name : peerName
                if newDialer != min(name, peerName) {
                    link.retire()
                    return nil
                }
                // Closed a little later, so the peer switches to the new link before it sees the old
                // one close (the two sockets' events are not ordered) and never thinks this node down.
                loop.scheduleTask(in: .milliseconds(Int64(config.heartbeatIntervalMilliseconds))) { existing.retire() }
            } else if existing.silentNanoseconds < UInt64(config.downAfterMilliseconds) * 1_000_000 {
                let message = "a node named \(peerName) is already a member and up"
                logger.error("cluster link refused: name clash", metadata: ["peer": "\(peerName)", "detail": "\(message)"])
                link.send(.refuse(.nameClash, message: message))
                link.retire()
                return (.nameClash, message)
            } else {
                existing.retire()
                declareDown(member, reason: "replaced by a new incarnation")
            }
        }
        let isNew = members[peerName] == nil || members[peerName]!.address != peer.address
        member.address = peer.address
        member.link = link
        member.state = .up
        members[peerName] = member
        forwarder.links.withLockedValue { $0[peerName] = link }
        logger.info("cluster: link up", metadata: ["peer": "\(peerName)", "address": "\(link.addresses)",
                                                   "direction": "\(link.dialled ? "dialled" : "accepted")"])
        if isNew { persist() }
        drainLocalRoutes()
        if !link.dialled { link.send(.welcome(members: knownAddresses)) }
        link.send(.routeSnapshot(filters: localFilters.sorted()))
        for frame in RetainedReplicator.frames(RetainedReplicator.snapshot(of: broker)) { link.send(frame) }
        if link.dialled { link.send(.members(knownAddresses)) }
        for other in members.values where other !== member { other.link?.send(.members([peer.address])) }
        resyncClients()
        return nil
    }

    /// Every member's address, this node's included.
    private var knownAddresses: [NodeAddress] {
        [NodeAddress(name: name, port: port)] + members.values.map(\.address)
    }

    /// Members a peer told about: dial those this node has no link to.
    func learn(_ addresses: [NodeAddress]) {
        guard !stopped else { return }
        for address in addresses where address.name != name {
            if let member = members[address.name] {
                if member.link == nil, !member.dialing { dial(address) }
            } else {
                members[address.name] = Member(address: address)
                persist()
                dial(address)
            }
        }
    }

    func linkClosed(_ link: PeerLink) {
        guard let peer = link.peer.load(), let member = members[peer.address.name], member.link === link else { return }
        declareDown(member, reason: link.retired.load(ordering: .relaxed) ? "link closed" : "link lost")
    }

    private func declareDown(_ member: Member, reason: String) {
        let peerName = member.address.name
        member.link?.retire()
        member.link = nil
        member.state = .down
        forwarder.links.withLockedValue { $0[peerName] = nil }
        let purged = routes.purge(node: peerName)
        let sessions = forgetClients(of: peerName)
        logger.warning("cluster: node down", metadata: ["peer": "\(peerName)", "reason": "\(reason)", "routes_purged": "\(purged)",
                                                         "sessions_purged": "\(sessions)"])
    }

    func peerLeft(_ peer: PeerIdentity, link: PeerLink) {
        let peerName = peer.address.name
        guard let member = members[peerName], member.link === link else { return }
        members[peerName] = nil
        forwarder.links.withLockedValue { $0[peerName] = nil }
        let purged = routes.purge(node: peerName)
        forgetClients(of: peerName)
        link.retire()
        persist()
        logger.info("cluster: node left the cluster", metadata: ["peer": "\(peerName)", "routes_purged": "\(purged)"])
    }

    /// Heartbeats, failure detection and reconnection.
    private func tick() {
        guard !stopped else { return }
        let downAfter = UInt64(config.downAfterMilliseconds) * 1_000_000
        let retryEvery = TimeAmount.milliseconds(Int64(max(config.heartbeatIntervalMilliseconds, 1000)))
        let now = NIODeadline.now()
        for member in members.values {
            if let link = member.link {
                if link.silentNanoseconds > downAfter {
                    declareDown(member, reason: "silent for more than \(config.downAfterMilliseconds) ms")
                } else {
                    link.send(.heartbeat)
                }
            } else if !member.dialing, now - member.lastDial >= retryEvery {
                dial(member.address)
            }
        }
    }

    private func persist() {
        do {
            try store.save(members.values.map(\.address))
        } catch {
            logger.error("cluster: cannot remember the members", metadata: ["path": "\(store.path)", "error": "\(error)"])
        }
    }

    // MARK: - Routes

    public func localRouteAdded(_ filter: String) { record(RouteOp(add: true, filter: filter)) }

    public func localRouteRemoved(_ filter: String) { record(RouteOp(add: false, filter: filter)) }

    private func record(_ op: RouteOp) {
        pendingOps.withLockedValue { $0.append(op) }
        if !drainScheduled.exchange(true, ordering: .acquiringAndReleasing) {
            loop.execute { [self] in drainLocalRoutes() }
        }
    }

    /// Applies recorded local route changes and streams them to every peer, in order.
    private func drainLocalRoutes() {
        drainScheduled.store(false, ordering: .releasing)
        let ops = pendingOps.withLockedValue { ops in
            defer { ops.removeAll(keepingCapacity: true) }
            return ops
        }
        guard !ops.isEmpty else { return }
        for op in ops {
            if op.add { localFilters.insert(op.filter) } else { localFilters.remove(op.filter) }
        }
        let links = members.values.compactMap(\.link)
        guard !links.isEmpty else { return }
        var start = 0
        while start < ops.count {
            let chunk = Array(ops[start..<min(start + 10_000, ops.count)])
            for link in links { link.send(.routeOps(chunk)) }
            start += chunk.count
        }
    }

    func applySnapshot(_ filters: [String], from peer: PeerIdentity, link: PeerLink) {
        guard members[peer.address.name]?.link === link else { return }
        routes.replace(node: peer.address.name, with: filters)
    }

    func applyRouteOps(_ ops: [RouteOp], from peer: PeerIdentity, link: PeerLink) {
        guard members[peer.address.name]?.link === link else { return }
        for op in ops {
            if op.add { routes.add(op.filter, node: peer.address.name) } else { routes.remove(op.filter, node: peer.address.name) }
        }
    }

    // MARK: - Retained messages

    public func retainedChanged(topic: String, message: Message?, stamp: RetainedStamp) {
        if retained.record(topic: topic, message: message, stamp: stamp) {
            loop.execute { [self] in drainRetained() }
        }
    }

    /// Sends the recorded local retained changes to every peer.
    private func drainRetained() {
        let entries = retained.take()
        guard !entries.isEmpty else { return }
        let frames = RetainedReplicator.frames(entries)
        for link in members.values.compactMap(\.link) {
            for frame in frames { link.send(frame) }
        }
    }

    /// Applies retained changes a peer sent (on the link's loop: the store has its own lock).
    func applyRetained(_ entries: [RetainedEntry], from peer: PeerIdentity) {
        let bad = RetainedReplicator.apply(entries, to: broker)
        if !bad.isEmpty {
            logger.error("cluster: bad retained message", metadata: ["peer": "\(peer.address.name)", "topics": "\(bad)"])
        }
    }

    // MARK: - Client registry

    /// How long a claim or a take-over waits for the peer's answer before the connect goes on
    /// without it (as if the id had no session elsewhere).
    private var registryTimeout: TimeAmount {
        .milliseconds(Int64(max(2000, config.downAfterMilliseconds)))
    }

    /// The members that are up, this node included: the owners of client ids.
    private var upNodes: [String] {
        [name] + members.values.filter { $0.state == .up && $0.link != nil }.map(\.address.name)
    }

    public func claimSession(_ clientId: String, resume: Bool, completion: @escaping @Sendable (MovedSession?) -> Void) {
        guard resume else {
            completion(nil)
            return claimClient(clientId) { [self] holder in
                guard let holder, holder != name else { return }
                takeOverClient(clientId, from: holder, resume: false) { _ in }
            }
        }
        claimClient(clientId) { [self] holder in
            guard let holder, holder != name else { return completion(nil) }
            takeOverClient(clientId, from: holder, resume: true) { state in
                completion(state.map { MovedSession(state: $0, from: holder) })
            }
        }
    }

    /// Registers this node as the holder of `clientId` with the id's owner node; `completion` (any
    /// thread) gets the node that held it until now (nil: none; this node's name: a session here).
    private func claimClient(_ clientId: String, completion: @escaping @Sendable (String?) -> Void) {
        loop.execute { [self] in
            let owner = ClientRegistry.owner(of: clientId, among: upNodes)
            guard owner != name, let link = members[owner]?.link else {
                return completion(clients.claim(clientId, by: name))
            }
            let request = clients.expect(from: owner, timeout: registryTimeout, on: loop) { [self] answer in
                guard case .holder(let holder) = answer else {
                    logger.warning("cluster: no answer to a client id claim; connecting without a take-over",
                                   metadata: ["client_id": "\(clientId)", "owner": "\(owner)"])
                    return completion(nil)
                }
                completion(holder)
            }
            link.send(.clientClaim(request: request, clientId: clientId))
        }
    }

    /// Asks `node` to hand its session for `clientId` over to this node; `completion` (any thread)
    /// gets its state (`resume`), or nil: none there, discarded as asked, or no answer in time.
    private func takeOverClient(_ clientId: String, from node: String, resume: Bool,
                               completion: @escaping @Sendable (ByteBuffer?) -> Void) {
        loop.execute { [self] in
            guard let link = members[node]?.link else { return completion(nil) }
            let request = clients.expect(from: node, timeout: registryTimeout, on: loop) { [self] answer in
                guard case .state(let state) = answer else {
                    logger.warning("cluster: no session from the node that held it; starting a new one",
                                   metadata: ["client_id": "\(clientId)", "peer": "\(node)"])
                    return completion(nil)
                }
                completion(state)
            }
            link.send(.takeOver(request: request, clientId: clientId, resume: resume))
        }
    }

    public func sessionReleased(_ clientId: String) {
        loop.execute { [self] in
            // A new session claimed the id here meanwhile: its claim stands.
            guard !broker.holdsSession(clientId) else { return }
            let owner = ClientRegistry.owner(of: clientId, among: upNodes)
            if owner == name {
                clients.release(clientId, by: name)
            } else {
                members[owner]?.link?.send(.clientRelease(clientId))
            }
        }
    }

    /// A peer's registry frame (on `loop`): claims and releases for ids this node owns, the
    /// peer's snapshot, answers to this node's requests, and take-over requests.
    func handleRegistry(_ frame: Frame, from peer: PeerIdentity, link: PeerLink) {
        let peerName = peer.address.name
        guard members[peerName]?.link === link else { return }
        switch frame {
        case .clientClaim(let request, let clientId):
            link.send(.clientHolder(request: request, holder: clients.claim(clientId, by: peerName) ?? ""))
        case .clientHolder(let request, let holder):
            clients.answer(request, from: peerName, with: .holder(holder.isEmpty ? nil : holder))
        case .clientSnapshot(let clientIds):
            clients.replace(node: peerName, with: clientIds)
        case .clientRelease(let clientId):
            clients.release(clientId, by: peerName)
        case .takeOver(let request, let clientId, let resume):
            logger.info("cluster: session taken over by another node",
                        metadata: ["client_id": "\(clientId)", "peer": "\(peerName)", "resume": "\(resume)"])
            broker.surrenderSession(clientId, resume: resume).whenSuccess { state in
                link.send(.sessionState(request: request, state: state))
            }
        case .sessionState(let request, let state):
            clients.answer(request, from: peerName, with: .state(state))
        default:
            break
        }
    }

    /// The members changed: tells every owner which of its ids this node holds, and keeps this
    /// node's own entries for the ids it owns now.
    private func resyncClients() {
        let owners = upNodes
        var byOwner = Dictionary(uniqueKeysWithValues: owners.map { ($0, [String]()) })
        for clientId in broker.localClientIds() {
            byOwner[ClientRegistry.owner(of: clientId, among: owners)]!.append(clientId)
        }
        for (owner, clientIds) in byOwner {
            if owner == name {
                clients.replace(node: name, with: clientIds)
            } else {
                members[owner]?.link?.send(.clientSnapshot(clientIds))
            }
        }
    }

    /// A peer is down or left: its entries go, its open requests end, and the ids it owned find
    /// their new owners.
    @discardableResult
    private func forgetClients(of peer: String) -> Int {
        let purged = clients.purge(node: peer)
        clients.abandon(peer: peer)
        resyncClients()
        return purged
    }

    // MARK: - ClusterAttachment

    public func nodes(matching topic: String, loopIndex: Int) -> [String] {
        forwarder.nodes(matching: topic, loopIndex: loopIndex)
    }

    public func forward(_ message: Message, to nodes: [String], loopIndex: Int) {
        forwarder.forward(message, to: nodes, loopIndex: loopIndex)
    }

    public func remoteSharedGroups(matching topic: String, loopIndex: Int) -> [RemoteSharedGroup] {
        forwarder.sharedGroups(matching: topic, loopIndex: loopIndex)
    }

    public func forward(_ message: Message, to node: String, for group: SharedGroupKey, loopIndex: Int) {
        forwarder.forward(message, to: node, for: group, loopIndex: loopIndex)
    }

    public func remoteRoutes() -> [String: [String]] { routes.all() }

    /// Forwards per peer (kept across its reconnections): out to it, in from it, lost on the way to it.
    public func forwardCounts() -> [(peer: String, out: Int, in: Int, lost: Int)] {
        forwarder.allStats.sorted { $0.key < $1.key }.map { peer, stats in
            (peer, stats.forwardedOut.load(ordering: .relaxed), stats.forwardedIn.load(ordering: .relaxed),
             stats.lost.load(ordering: .relaxed))
        }
    }

    /// `cluster.forwarded.out`, `cluster.forwarded.in`, `cluster.forwards.lost`, each in all and
    /// per peer (`cluster.forwarded.out.NODE`). Any thread.
    public func counters() -> [String: Int] {
        var result = ["cluster.forwarded.out": 0, "cluster.forwarded.in": 0, "cluster.forwards.lost": 0]
        for counts in forwardCounts() {
            for (key, value) in [("cluster.forwarded.out", counts.out), ("cluster.forwarded.in", counts.in),
                                 ("cluster.forwards.lost", counts.lost)] {
                result[key, default: 0] += value
                result["\(key).\(counts.peer)"] = value
            }
        }
        return result
    }

    // MARK: - ClusterControl

    public func status() async -> ClusterStatus {
        (try? await loop.submit { [self] in statusNow() }.get())
            ?? ClusterStatus(node: name, enabled: true, clusterPort: port, localRoutes: 0, remoteRoutes: 0, members: [])
    }

    private func statusNow() -> ClusterStatus {
        drainLocalRoutes()
        let stats = forwarder.allStats
        let list = members.values.sorted { $0.address.name < $1.address.name }.map { member in
            let peerStats = stats[member.address.name]
            return ClusterMemberStatus(
                name: member.address.name, address: "\(member.address.host):\(member.address.port)",
                state: member.state.rawValue, routes: routes.count(of: member.address.name),
                link: member.link.map { "\($0.dialled ? "dialled" : "accepted") \($0.addresses)" },
                lastHeardMs: member.link.map { Int($0.silentNanoseconds / 1_000_000) },
                forwardedOut: peerStats?.forwardedOut.load(ordering: .relaxed) ?? 0,
                forwardedIn: peerStats?.forwardedIn.load(ordering: .relaxed) ?? 0,
                forwardsLost: peerStats?.lost.load(ordering: .relaxed) ?? 0)
        }
        return ClusterStatus(node: name, enabled: true, clusterPort: port, localRoutes: localFilters.count,
                             remoteRoutes: list.reduce(0) { $0 + $1.routes }, members: list, ownedClientIds: clients.count)
    }

    public func join(node text: String, timeoutSeconds: Double) async throws(ClusterJoinError) -> ClusterStatus {
        guard let address = NodeAddress(parsing: text) else {
            throw ClusterJoinError(.badNode, "'\(text)' is not a node: expected NAME@HOST or NAME@HOST:PORT")
        }
        guard address.name != name else {
            throw ClusterJoinError(.nameClash, "name clash: \(address.name) is this node's own name")
        }
        let promise = loop.makePromise(of: Void.self)
        let wasKnown = ManagedAtomic<Bool>(false)
        let done = ManagedAtomic<Bool>(false)
        let complete: @Sendable (Result<Void, ClusterJoinError>) -> Void = { result in
            guard !done.exchange(true, ordering: .relaxed) else { return }
            promise.completeWith(result.mapError { $0 as Error })
        }
        loop.execute { [self] in
            if let member = members[address.name], member.state == .up {
                return complete(.success(()))
            }
            if members[address.name] == nil {
                members[address.name] = Member(address: address)
            } else {
                wasKnown.store(true, ordering: .relaxed)
            }
            dial(address) { outcome in
                switch outcome {
                case .joined: complete(.success(()))
                case .refused(.wrongCookie, let message): complete(.failure(ClusterJoinError(.wrongCookie, "wrong cookie: \(message)")))
                case .refused(.nameClash, let message): complete(.failure(ClusterJoinError(.nameClash, "name clash: \(message)")))
                case .refused(let reason, let message): complete(.failure(ClusterJoinError(.refused, "\(reason): \(message)")))
                case .failed(let message): complete(.failure(ClusterJoinError(.unreachable, "unreachable: \(message)")))
                }
            }
        }
        let timeout = TimeAmount.nanoseconds(Int64(max(0.1, timeoutSeconds) * 1e9))
        loop.scheduleTask(in: timeout) {
            complete(.failure(ClusterJoinError(.timeout, "no answer from \(address.name) at \(address.host):\(address.port) within \(timeoutSeconds) s")))
        }
        do {
            try await promise.futureResult.get()
        } catch let error as ClusterJoinError {
            // A node that could not be joined is not remembered.
            try? await loop.submit { [self] in
                if !wasKnown.load(ordering: .relaxed), let member = members[address.name], member.link == nil {
                    members[address.name] = nil
                    persist()
                }
            }.get()
            throw error
        } catch {
            throw ClusterJoinError(.unreachable, "\(error)")
        }
        return await status()
    }

    public func leave() async -> ClusterStatus {
        let farewells = (try? await loop.submit { [self] () -> [EventLoopFuture<Void>] in
            drainLocalRoutes()
            return members.values.compactMap { $0.link?.sendWithFuture(.leave) }
        }.get()) ?? []
        let all = EventLoopFuture.andAllComplete(farewells, on: loop)
        _ = try? await all.flatWithTimeout(.seconds(2), on: loop).get()
        try? await loop.submit { [self] in
            for member in members.values { member.link?.retire() }
            for peer in members.keys {
                routes.purge(node: peer)
            }
            members.removeAll()
            forwarder.links.withLockedValue { $0.removeAll() }
            clients.removeAll()
            persist()
            logger.info("cluster: left the cluster")
        }.get()
        return await status()
    }
}

/// The cluster port could not be opened.
public struct ClusterStartError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension EventLoopFuture where Value: Sendable {
    /// This future, or a failure after `timeout`.
    fileprivate func flatWithTimeout(_ timeout: TimeAmount, on loop: EventLoop) -> EventLoopFuture<Value> {
        let promise = loop.makePromise(of: Value.self)
        let task = loop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
        whenComplete { result in
            task.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }
}
