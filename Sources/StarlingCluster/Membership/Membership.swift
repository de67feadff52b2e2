import Atomics
import Logging
import NIOCore
import NIOPosix
import StarlingKernel

/// The cluster's members (full mesh): dialling and admitting links, failure detection by
/// heartbeats, reconnection, and the members remembered across restarts (`MemberStore`). All
/// state lives on `loop`, the node's loop; links hand their events over to it.
final class Membership: PeerDirectory, LoopConfined, @unchecked Sendable {
    let name: String
    let loop: EventLoop
    private let config: ClusterConfig
    private let group: EventLoopGroup
    private let logger: Logger
    private let store: MemberStore
    private let forwarder: Forwarder
    weak var owner: MembershipOwner?

    /// The bound cluster port (0 until bound).
    var port: Int { boundPort.load(ordering: .acquiring) }
    let boundPort = ManagedAtomic<Int>(0)
    private(set) var stopped = false
    private var heartbeat: RepeatedTask?
    private var members: [String: Peer] = [:]

    init(name: String, config: ClusterConfig, loop: EventLoop, group: EventLoopGroup, store: MemberStore,
         forwarder: Forwarder, logger: Logger) {
        self.name = name
        self.config = config
        self.loop = loop
        self.group = group
        self.store = store
        self.forwarder = forwarder
        self.logger = logger
    }

    /// Loads the remembered members and the seeds, and starts the heartbeats (which dial them).
    func start(seeds: [String]) {
        assertOnLoop()
        var known = store.load()
        for seed in seeds {
            if let address = PeerAddress(parsing: seed), !known.contains(where: { $0.name == address.name }) {
                known.append(address)
            }
        }
        for address in known where address.name != name {
            members[address.name] = Peer(address: address)
        }
        if !known.isEmpty {
            logger.info("cluster: rejoining", metadata: ["members": "\(known.map(\.description).joined(separator: ", "))"])
        }
        heartbeat = loop.scheduleRepeatedTask(
            initialDelay: .zero, delay: .milliseconds(Int64(config.heartbeatIntervalMilliseconds))) { [self] _ in tick() }
    }

    /// Stops the heartbeats and closes every link (peers keep this node as a member).
    func stop() {
        assertOnLoop()
        stopped = true
        heartbeat?.cancel()
        for member in members.values { member.link?.retire() }
    }

    // MARK: - PeerDirectory

    var links: [PeerLink] {
        assertOnLoop()
        return members.values.compactMap(\.link)
    }

    func link(of peer: String) -> PeerLink? {
        assertOnLoop()
        return members[peer]?.link
    }

    var upNodes: [String] {
        assertOnLoop()
        return [name] + members.values.filter { $0.state == .up && $0.link != nil }.map(\.address.name)
    }

    /// Every member's address, this node's included.
    var knownAddresses: [PeerAddress] {
        assertOnLoop()
        return [PeerAddress(name: name, port: port)] + members.values.map(\.address)
    }

    // MARK: - Links

    /// Dials `address`; `outcome` hears how the handshake ends.
    private func dial(_ address: PeerAddress, outcome: (@Sendable (LinkOutcome) -> Void)? = nil) {
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
                    guard let owner else { throw ChannelError.ioOnClosedChannel }
                    try owner.linkTLS?.addDialerHandlers(to: channel, peer: address)
                    try channel.pipeline.syncOperations.addHandler(LinkHandler(node: owner, target: address, outcome: finished))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenFailure { error in
                let cause = (error as? NIOConnectionError)?.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
                finished(.failed("cannot reach \(address.name) at \(address.host):\(address.port): \(cause)"))
            }
    }

    /// What `admit` decided.
    enum Admission {
        /// The link is the peer's now: the node sends it what the peer needs.
        case admitted
        /// A duplicate of a link both sides dialled at once, closed without a word.
        case dropped
        /// Refused; the refusal has been sent.
        case refused(RefuseReason, String)
    }

    /// A link finished its handshake: keep it or refuse it.
    func admit(_ link: PeerLink, peer: PeerIdentity) -> Admission {
        assertOnLoop()
        let peerName = peer.address.name
        if stopped {
            link.send(.refuse(.notClustered, message: "\(name) is shutting down"))
            link.retire()
            return .refused(.notClustered, "\(name) is shutting down")
        }
        let member = members[peerName] ?? Peer(address: peer.address)
        if let existing = member.link, existing !== link, existing.channel.isActive {
            if existing.peer.load()?.incarnation == peer.incarnation {
                // Both sides dialled at once: keep the link dialled by the smaller name, on both sides.
                let newDialer = link.dialled ? name : peerName
                if newDialer != min(name, peerName) {
                    link.retire()
                    return .dropped
                }
                // Closed a little later, so the peer switches to the new link before it sees the old
                // one close (the two sockets' events are not ordered) and never thinks this node down.
                loop.scheduleTask(in: .milliseconds(Int64(config.heartbeatIntervalMilliseconds))) { existing.retire() }
            } else if existing.silentNanoseconds < UInt64(config.downAfterMilliseconds) * 1_000_000 {
                let message = "a node named \(peerName) is already a member and up"
                logger.error("cluster link refused: name clash", metadata: ["peer": "\(peerName)", "detail": "\(message)"])
                link.send(.refuse(.nameClash, message: message))
                link.retire()
                return .refused(.nameClash, message)
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
        return .admitted
    }

    /// After an admitted link got the routes and retained messages: tells a dialled peer every
    /// member, and every other member about the peer.
    func announce(_ link: PeerLink, peer: PeerAddress) {
        assertOnLoop()
        if link.dialled { link.send(.members(knownAddresses)) }
        for other in members.values where other.address.name != peer.name { other.link?.send(.members([peer])) }
    }

    /// Members a peer told about: dial those this node has no link to.
    func learn(_ addresses: [PeerAddress]) {
        assertOnLoop()
        guard !stopped else { return }
        for address in addresses where address.name != name {
            if let member = members[address.name] {
                if member.link == nil, !member.dialing { dial(address) }
            } else {
                members[address.name] = Peer(address: address)
                persist()
                dial(address)
            }
        }
    }

    func linkClosed(_ link: PeerLink) {

        assertOnLoop()
        guard let peer = link.peer.load(), let member = members[peer.address.name], member.link === link else { return }
        declareDown(member, reason: link.retired.load(ordering: .relaxed) ? "link closed" : "link lost")
    }

    private func declareDown(_ member: Peer, reason: String) {
        let peerName = member.address.name
        member.link?.retire()
        member.link = nil
        member.state = .down
        forwarder.links.withLockedValue { $0[peerName] = nil }
        let purged = owner?.peerGone(peerName) ?? (routes: 0, sessions: 0)
        logger.warning("cluster: node down", metadata: ["peer": "\(peerName)", "reason": "\(reason)", "routes_purged": "\(purged.routes)",
                                                         "sessions_purged": "\(purged.sessions)"])
    }

    func peerLeft(_ peer: PeerIdentity, link: PeerLink) {

        assertOnLoop()
        let peerName = peer.address.name
        guard let member = members[peerName], member.link === link else { return }
        members[peerName] = nil
        forwarder.links.withLockedValue { $0[peerName] = nil }
        let purged = owner?.peerGone(peerName) ?? (routes: 0, sessions: 0)
        link.retire()
        persist()
        logger.info("cluster: node left the cluster", metadata: ["peer": "\(peerName)", "routes_purged": "\(purged.routes)"])
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

    func persist() {

        assertOnLoop()
        do {
            try store.save(members.values.map(\.address))
        } catch {
            logger.error("cluster: cannot remember the members", metadata: ["path": "\(store.path)", "error": "\(error)"])
        }
    }

    // MARK: - Control

    /// What `join` found.
    enum JoinStart {
        case alreadyUp
        case dialing(wasKnown: Bool)
    }

    /// `ctl cluster join`: dials `address` unless it is up; `outcome` hears how the handshake ends.
    func join(_ address: PeerAddress, outcome: @escaping @Sendable (LinkOutcome) -> Void) -> JoinStart {
        assertOnLoop()
        if let member = members[address.name], member.state == .up { return .alreadyUp }
        let wasKnown = members[address.name] != nil
        if !wasKnown { members[address.name] = Peer(address: address) }
        dial(address, outcome: outcome)
        return .dialing(wasKnown: wasKnown)
    }

    /// A node that could not be joined is not remembered.
    func forgetUnjoined(_ address: PeerAddress) {
        assertOnLoop()
        if let member = members[address.name], member.link == nil {
            members[address.name] = nil
            persist()
        }
    }

    /// Sends `leave` on every link; the futures complete once written.
    func farewells() -> [EventLoopFuture<Void>] {
        assertOnLoop()
        return members.values.compactMap { $0.link?.sendWithFuture(.leave) }
    }

    /// Closes every link and forgets every member; returns their names.
    func removeAll() -> [String] {
        assertOnLoop()
        for member in members.values { member.link?.retire() }
        let peers = Array(members.keys)
        members.removeAll()
        forwarder.links.withLockedValue { $0.removeAll() }
        return peers
    }

    /// The members for `ctl cluster status`, by name.
    func snapshots(routes: RemoteRouteTable) -> [PeerSnapshot] {
        assertOnLoop()
        let stats = forwarder.allStats
        return members.values.sorted { $0.address.name < $1.address.name }.map { member in
            let peerStats = stats[member.address.name]
            return PeerSnapshot(
                address: member.address, state: member.state, routes: routes.count(of: member.address.name),
                link: member.link.map { LinkSnapshot(dialled: $0.dialled, addresses: $0.addresses,
                                                     silence: .nanoseconds(Int64($0.silentNanoseconds))) },
                forwardedOut: peerStats?.forwardedOut.load(ordering: .relaxed) ?? 0,
                forwardedIn: peerStats?.forwardedIn.load(ordering: .relaxed) ?? 0,
                forwardsLost: peerStats?.lost.load(ordering: .relaxed) ?? 0)
        }
    }
}
