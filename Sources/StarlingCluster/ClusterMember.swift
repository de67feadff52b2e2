import Atomics
import Logging
import NIOCore
import NIOPosix
import StarlingKernel

/// This node's membership in a cluster, as the kernel and `ctl cluster` see it: the control
/// facade over the cluster port and one part per concern — `Membership` (links, failure
/// detection), `RouteStream` (the replicated route table), `RetainedStream` (retained
/// replication), `RegistryService` (the client registry) and `Forwarder` (forwarding).
///
/// Their state lives on one event loop (`loop`); links read on their own loops and hand changes
/// over (see `LinkDelegate`). Every call into the kernel goes through `ClusterKernel`.
public final class ClusterMember: ClusterAttachment, LoopConfined, @unchecked Sendable {
    /// This node's name, `name@host`.
    public let name: String
    let cookie: String
    let config: ClusterConfig
    /// TLS on the links; nil: plain frames.
    let linkTLS: (any ClusterLinkTLS)?
    let kernel: any ClusterKernel
    let logger: Logger
    public let loop: EventLoop
    let incarnation = UInt64.random(in: 1 ... .max)
    let forwarder: Forwarder
    let membership: Membership
    let routeStream: RouteStream
    let retained: RetainedStream
    let registry: RegistryService
    private var serverChannel: Channel?

    /// The bound cluster port (0 until bound).
    public var port: Int { membership.port }

    private init(name: String, cookie: String, config: ClusterConfig, linkTLS: (any ClusterLinkTLS)?, kernel: any ClusterKernel,
                 group: EventLoopGroup, dataDir: String, logger: Logger) {
        self.name = name
        self.cookie = cookie
        self.config = config
        self.linkTLS = linkTLS
        self.kernel = kernel
        self.loop = kernel.eventLoops[0]
        self.logger = logger
        let routes = RemoteRouteTable()
        forwarder = Forwarder(routes: routes, loops: kernel.eventLoops)
        membership = Membership(name: name, config: config, loop: loop, group: group, store: MemberStore(dataDir: dataDir),
                                forwarder: forwarder, logger: logger)
        routeStream = RouteStream(loop: loop, peers: membership, routes: routes)
        retained = RetainedStream(kernel: kernel, loop: loop, peers: membership, logger: logger)
        // A claim or a take-over waits this long for the peer's answer.
        registry = RegistryService(name: name, loop: loop, kernel: kernel, peers: membership,
                                   timeout: .milliseconds(Int64(max(2000, config.downAfterMilliseconds))), logger: logger)
        membership.owner = self
    }

    /// Opens the cluster port, attaches to the kernel and dials the remembered members and the
    /// seeds. Logs `cluster listening on HOST:PORT`.
    /// - Parameter linkTLS: TLS on every link, accepted and dialled; nil: plain frames (a node with
    ///   TLS and one without refuse each other).
    /// - Throws: `ClusterStartError` when the port cannot be bound.
    public static func start(name: String, config: ClusterConfig, linkTLS: (any ClusterLinkTLS)? = nil, broker: Broker,
                             group: EventLoopGroup, dataDir: String, logger: Logger) async throws -> ClusterMember {
        guard let cookie = config.cookie else { throw ClusterStartError(message: "the cluster needs a cookie") }
        let node = ClusterMember(name: name, cookie: cookie, config: config, linkTLS: linkTLS, kernel: broker, group: group,
                                 dataDir: dataDir, logger: logger)
        // Attach first: a link admitted as soon as the port opens already has the local routes.
        try await node.loop.submit {
            node.routeStream.attached(with: node.kernel.attach(cluster: node))
        }.get()
        let host = config.bind ?? PeerAddress(name: name, port: 0).host
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: Forwarder.linkWaterMark)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try linkTLS?.addAcceptorHandlers(to: channel)
                        try channel.pipeline.syncOperations.addHandler(LinkHandler(node: node, target: nil))
                    }
                }
                .bind(host: host, port: config.port).get()
        } catch {
            throw ClusterStartError(message: "cannot listen on cluster port \(host):\(config.port): \(error)")
        }
        let port = channel.localAddress?.port ?? config.port
        node.membership.boundPort.store(port, ordering: .releasing)
        logger.info("cluster listening on \(host):\(port)", metadata: ["node": "\(name)", "tls": "\(linkTLS != nil)"])
        try await node.loop.submit {
            node.serverChannel = channel
            node.membership.start(seeds: config.seeds)
            node.retained.prune(true)
        }.get()
        return node
    }

    /// Closes every link and the cluster port (peers see the links drop and keep this node as a
    /// member, so it rejoins when it comes back).
    public func stop() async {
        let channel = try? await loop.submit { [self] in
            membership.stop()
            retained.prune(false)
            return serverChannel
        }.get()
        try? await channel?.close()
    }

    // MARK: - ClusterAttachment

    public func localRouteAdded(_ filter: String) { routeStream.record(RouteOp(add: true, filter: filter)) }

    public func localRouteRemoved(_ filter: String) { routeStream.record(RouteOp(add: false, filter: filter)) }

    public func retainedChanged(topic: String, message: Message?, stamp: RetainedStamp) {
        retained.changed(topic: topic, message: message, stamp: stamp)
    }

    public func claimSession(_ clientId: String, resume: Bool, completion: @escaping @Sendable (MovedSession?) -> Void) {
        registry.claimSession(clientId, resume: resume, completion: completion)
    }

    public func sessionReleased(_ clientId: String) { registry.released(clientId) }

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

    public func remoteRoutes() -> [String: [String]] { routeStream.routes.all() }

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

    // MARK: - What the operator steers (the API adapts it in StarlingServer)

    /// The cluster as this node sees it now.
    public func snapshot() async -> ClusterSnapshot {
        (try? await loop.submit { [self] in snapshotNow() }.get())
            ?? ClusterSnapshot(node: name, clusterPort: port, localRoutes: 0, peers: [], ownedClientIds: 0)
    }

    private func snapshotNow() -> ClusterSnapshot {
        routeStream.drain()
        return ClusterSnapshot(node: name, clusterPort: port, localRoutes: routeStream.localFilters.count,
                               peers: membership.snapshots(routes: routeStream.routes), ownedClientIds: registry.count)
    }

    /// Links this node to `text` (`NAME@HOST[:PORT]`) and, through it, to every member; returns
    /// once the link is up, or throws why not within `timeoutSeconds`.
    public func join(node text: String, timeoutSeconds: Double) async throws(JoinFailure) -> ClusterSnapshot {
        guard let address = PeerAddress(parsing: text) else {
            throw JoinFailure(.badNode, "'\(text)' is not a node: expected NAME@HOST or NAME@HOST:PORT")
        }
        guard address.name != name else {
            throw JoinFailure(.nameClash, "name clash: \(address.name) is this node's own name")
        }
        let promise = loop.makePromise(of: Void.self)
        let wasKnown = ManagedAtomic<Bool>(false)
        let done = ManagedAtomic<Bool>(false)
        let complete: @Sendable (Result<Void, JoinFailure>) -> Void = { result in
            guard !done.exchange(true, ordering: .relaxed) else { return }
            promise.completeWith(result.mapError { $0 as Error })
        }
        loop.execute { [self] in
            let start = membership.join(address) { outcome in
                switch outcome {
                case .joined: complete(.success(()))
                case .refused(.wrongCookie, let message): complete(.failure(JoinFailure(.wrongCookie, "wrong cookie: \(message)")))
                case .refused(.nameClash, let message): complete(.failure(JoinFailure(.nameClash, "name clash: \(message)")))
                case .refused(let reason, let message): complete(.failure(JoinFailure(.refused, "\(reason): \(message)")))
                case .insecure(let message): complete(.failure(JoinFailure(.refused, message)))
                case .failed(let message): complete(.failure(JoinFailure(.unreachable, "unreachable: \(message)")))
                }
            }
            switch start {
            case .alreadyUp: complete(.success(()))
            case .dialing(let known): wasKnown.store(known, ordering: .relaxed)
            }
        }
        let timeout = TimeAmount.nanoseconds(Int64(max(0.1, timeoutSeconds) * 1e9))
        loop.scheduleTask(in: timeout) {
            complete(.failure(JoinFailure(.timeout, "no answer from \(address.name) at \(address.host):\(address.port) within \(timeoutSeconds) s")))
        }
        do {
            try await promise.futureResult.get()
        } catch let error as JoinFailure {
            // A node that could not be joined is not remembered.
            try? await loop.submit { [self] in
                if !wasKnown.load(ordering: .relaxed) { membership.forgetUnjoined(address) }
            }.get()
            throw error
        } catch {
            throw JoinFailure(.unreachable, "\(error)")
        }
        return await snapshot()
    }

    /// Tells every member this node leaves, then drops every link and forgets the members.
    public func leave() async -> ClusterSnapshot {
        let farewells = (try? await loop.submit { [self] () -> [EventLoopFuture<Void>] in
            routeStream.drain()
            return membership.farewells()
        }.get()) ?? []
        let all = EventLoopFuture.andAllComplete(farewells, on: loop)
        _ = try? await all.flatWithTimeout(.seconds(2), on: loop).get()
        try? await loop.submit { [self] in
            for peer in membership.removeAll() { routeStream.purge(peer) }
            registry.removeAll()
            membership.persist()
            logger.info("cluster: left the cluster")
        }.get()
        return await snapshot()
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
