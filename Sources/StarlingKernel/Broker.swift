import Atomics
import Logging
import NIOConcurrencyHelpers
import MQTTCore
import NIOCore
import NIOPosix

/// The broker kernel of one node: sessions, routing, retained messages and limits. Listeners
/// hand it their accepted channels through `configure(channel:)`.
public final class Broker: Sendable {
    /// The settings in force (`allowAnonymous` resolved). Each loop keeps its own copy for the
    /// hot path; `update(settings:)` replaces all of them.
    public var settings: BrokerSettings { currentSettings.withLockedValue { $0 } }
    private let currentSettings: NIOLockedValueBox<BrokerSettings>
    let logger: Logger
    let contexts: [LoopContext]
    let router: Router
    let registry = SessionRegistry()
    let retained = RetainedStore()
    /// The node-wide connection limit (`maxConnections`); listeners have their own.
    let connections: ConnectionLimit
    /// The hook chain plugins attach to.
    public let hooks: HookRegistry
    /// The counters and gauges plugins report (`host->counter_add`, `host->gauge_set`).
    public let pluginMetrics = PluginMetrics()
    let peakConnections = ManagedAtomic<Int>(0)
    let shuttingDown = ManagedAtomic<Bool>(false)
    let startTime = NIODeadline.now()
    let sysIntervalObserver = SysIntervalObserver()
    /// The cluster this node belongs to, if any (each loop keeps its own reference for publishes).
    let clusterBox = NIOLockedValueBox<ClusterAttachment?>(nil)
    /// The durable store's writer once `restore` has run; nil: memory only.
    let storeWriter = NIOLockedValueBox<StoreWriter?>(nil)

    /// - Parameters:
    ///   - group: the event loops connections run on (each gets a delivery context).
    ///   - settings: with `allowAnonymous` resolved (nil counts as false).
    public init(settings: BrokerSettings, group: MultiThreadedEventLoopGroup, logger: Logger) {
        self.currentSettings = NIOLockedValueBox(settings)
        self.logger = logger
        self.router = Router(strategy: settings.sharedSubscription.strategy)
        self.connections = ConnectionLimit(maximum: settings.maxConnections)
        let loops = Array(group.makeIterator())
        self.contexts = loops.enumerated().map {
            LoopContext(loop: $0.element, index: $0.offset, loopCount: loops.count, settings: settings)
        }
        self.hooks = HookRegistry(contexts: contexts)
        for context in contexts {
            context.broker = self
            context.startSweeping()
        }
    }

    /// The delivery context of `loop`.
    func context(for loop: EventLoop) -> LoopContext {
        for context in contexts where context.loop === loop { return context }
        preconditionFailure("event loop \(loop) does not belong to this broker's group")
    }

    /// Sets up an accepted channel: the MQTT connection handler and socket options. `security`:
    /// what TLS below it already knows (a connection set up after its handshake); a connection
    /// whose handshake is still to come hears it from a `TransportSecurity` user event instead.
    public func configure(channel: Channel, limit: ConnectionLimit,
                          security: TransportSecurity? = nil) -> EventLoopFuture<Void> {
        let context = self.context(for: channel.eventLoop)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                MQTTConnection(broker: self, loopContext: context, listenerLimit: limit, transportSecurity: security))
        }
    }

    /// A message published on this node - by a client, a plugin, the API or as a will - goes to
    /// every destination the router names for it (sessions here, other nodes, shared groups
    /// wherever their members are) and is stored if retained, after the `message_publish` hooks
    /// (which may change or drop it; a dropped message matched nobody). Returns the number of
    /// sessions of this node it was handed to. Must run on `context.loop`.
    /// `beforeDelivery` runs with the number of destinations before anything is sent to them, so a
    /// publisher's acknowledgement goes out ahead of the copies (another node counts as one).
    /// Messages other nodes forward here come in through `deliverForwarded` instead.
    @discardableResult
    func publish(_ original: Message, from context: LoopContext, source: MessageSource = .client,
                 beforeDelivery: (Int) -> Void = { _ in }) -> Int {
        var message = original
        if context.withHooks({ !$0.messagePublish.isEmpty }) {
            switch applyPublishHooks(to: original, source: source, context: context) {
            case .unchanged: break
            case .rewritten(let rewritten): message = rewritten
            case .dropped:
                beforeDelivery(0)
                return 0
            }
        }
        if message.retain, context.settings.mqtt.retainAvailable, let stamp = retained.update(with: message) {
            context.cluster?.retainedChanged(topic: message.topic, message: message.payload.readableBytes == 0 ? nil : message,
                                             stamp: stamp)
        }
        var destinations = context.takeDestinations()
        defer { context.returnDestinations(&destinations) }
        router.route(message, cache: context.routeCache, remote: context.cluster, loopIndex: context.index, into: &destinations)
        if destinations.count == 0 { context.noteDrop(.noSubscribers, message, subscriberId: nil, qos: message.qos) }
        if message.qos != .atMostOnce, let store = context.store, store.storesCopiesAtPublish(of: message.qos) {
            store.storeCopies(of: message, for: &destinations.sessions)
        }
        beforeDelivery(destinations.count)
        if destinations.leavesThisNode, let cluster = context.cluster {
            if !destinations.nodes.isEmpty { cluster.forward(message, to: destinations.nodes, loopIndex: context.index) }
            for forward in destinations.groupForwards {
                cluster.forward(message, to: forward.node, for: forward.group, loopIndex: context.index)
            }
        }
        deliver(message, to: destinations.sessions, from: context)
        return destinations.sessions.count
    }

    /// Hands `message` to sessions of this node: a client's session on this loop at once, on
    /// another loop batched; a plugin subscription if its plugin version is in force here.
    @inline(__always)
    func deliver(_ message: Message, to sessions: some Sequence<Delivery>, from context: LoopContext) {
        for delivery in sessions {
            if delivery.session.isPluginSubscription {
                deliverToPlugin(message, delivery, from: context)
            } else {
                context.deliver(message, delivery)
            }
        }
    }

    /// Counts and (rate-limited) logs a QoS 1/2 message a session's limit dropped.
    func reportDrop(of pending: PendingMessage, session: Session, reason: MessageDropReason) {
        session.context.noteDrop(reason, pending.message, subscriberId: session.clientId, qos: pending.qos)
        session.context.logRateLimited(logger, "dropped a QoS \(pending.qos) message for a session",
                                       metadata: ["client_id": "\(session.clientId)", "topic": "\(pending.message.topic)",
                                                  "reason": "\(reason.name)"])
    }

    /// Puts new settings in force on every loop: limits, queue bounds, anonymous access, the
    /// connection limit and the shared-subscription strategy change at once. The node name and
    /// the event-loop count are fixed for the life of the broker and are kept as they are.
    public func update(settings new: BrokerSettings) {
        var applied = new
        let old = settings
        applied.nodeName = old.nodeName
        applied.eventLoops = old.eventLoops
        let final = applied
        currentSettings.withLockedValue { $0 = final }
        connections.maximum = final.maxConnections
        router.strategy = final.sharedSubscription.strategy
        if final.sys.interval != old.sys.interval { sysIntervalObserver.notify(final.sys.interval) }
        for context in contexts {
            context.loop.execute { context.settings = final }
        }
    }

    // MARK: - Shutdown and introspection

    /// Sends DISCONNECT 0x8B (server shutting down) to 5.0 clients and closes every connection.
    public func disconnectAll() -> EventLoopFuture<Void> {
        shuttingDown.store(true, ordering: .relaxed)
        let futures = contexts.map { context in
            context.loop.submit { context.closeAllConnections() }
        }
        return EventLoopFuture.andAllComplete(futures, on: contexts[0].loop)
    }
}
