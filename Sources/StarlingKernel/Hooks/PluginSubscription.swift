import Atomics
import MQTTCore
import NIOCore

/// A message as a plugin subscription receives it: the message and the QoS it came with
/// (the lower of the message's and the subscription's).
public typealias PluginMessageHandler = @Sendable (_ message: Message, _ qos: QoS) -> Void

/// Where a session without a connection hands its messages: a plugin's subscription.
///
/// Calls are counted into `owner` (so unloading waits for them) and skipped once the owner is
/// deactivated or the subscription cancelled. A message the owner itself published
/// (`Message.origin`) is skipped unless `receiveOwn`.
final class PluginSink: Sendable {
    let owner: HookOwner
    let receiveOwn: Bool
    let handler: PluginMessageHandler
    private let cancelled = ManagedAtomic<Bool>(false)

    init(owner: HookOwner, receiveOwn: Bool, handler: @escaping PluginMessageHandler) {
        self.owner = owner
        self.receiveOwn = receiveOwn
        self.handler = handler
    }

    func cancel() { cancelled.store(true, ordering: .sequentiallyConsistent) }

    /// Runs on the subscription's loop, one message after the other. True when the handler took it.
    @discardableResult
    func receive(_ message: Message, qos: QoS) -> Bool {
        if !receiveOwn, let origin = message.origin, origin.sequence == owner.sequence { return false }
        guard !cancelled.load(ordering: .sequentiallyConsistent), owner.enter() else { return false }
        handler(message, qos)
        owner.leave()
        return true
    }
}

/// A subscription held inside the broker on behalf of a plugin (no client connection): a
/// session of its own in the route table, so plain and shared filters work as for clients. Its
/// messages reach `handler` on one event loop, `loop`, in routing order.
///
/// A message is handed over only while the owner's subscriptions are in force on the
/// publishing loop (`HookChains.receivers`): a plugin's subscriptions made during its init start
/// receiving when the plugin goes live, and a reload switches from the old version's to the new
/// version's in the same chain update, so no message reaches both.
public final class PluginSubscription: Sendable {
    /// The filter as given (`$share/GROUP/…` included).
    public let filter: String
    let session: Session
    let sink: PluginSink

    init(filter: String, session: Session, sink: PluginSink) {
        self.filter = filter
        self.session = session
        self.sink = sink
    }

    /// The event loop the handler runs on.
    public var loop: EventLoop { session.loop }
}

extension Broker {
    /// Subscribes `handler` to `filter` for `owner` (a plugin), with `qos` as the highest QoS it
    /// takes. Callable from any thread. The handler runs on the calling thread's event loop when
    /// that is one of the broker's, else on the loop `spread` picks (modulo the loop count).
    /// Throws `ManagementError.invalidTopic` for a filter MQTT does not allow.
    public func subscribeForPlugin(filter: String, qos: QoS, owner: HookOwner, receiveOwn: Bool, spread: Int,
                                 handler: @escaping PluginMessageHandler) throws(ManagementError) -> PluginSubscription {
        guard MQTTTopic.isValidFilter(filter) else { throw ManagementError.invalidTopic(filter) }
        let context = self.context(spread: spread)
        let sink = PluginSink(owner: owner, receiveOwn: receiveOwn, handler: handler)
        // U+0000 is not allowed in an MQTT client id: no client can ever be taken for this session.
        let session = Session(clientId: "\u{0}plugin:\(owner.name)", context: context, broker: self, sink: sink)
        router.subscribe(session, filter: filter, options: SubscriptionOptions(qos: qos))
        return PluginSubscription(filter: filter, session: session, sink: sink)
    }

    /// Hands `message` to a plugin's subscription if that plugin version is the one in force on
    /// the publishing loop: decided once per message, here, so a reload never doubles it. A shared
    /// group's message picked for a version not (or no longer) in force goes to another member.
    func deliverToPlugin(_ message: Message, _ delivery: Delivery, from context: LoopContext) {
        guard let sink = delivery.session.sink, !context.withHooks({ $0.receives(sink.owner) }) else {
            context.deliver(message, delivery)
            return
        }
        if let key = delivery.sharedGroup,
           let other = router.redispatchTarget(for: key, topic: message.topic, publisherId: message.publisherId,
                                               leaving: delivery.session),
           other.session.sink.map({ sink in context.withHooks { $0.receives(sink.owner) } }) ?? true {
            context.deliver(message, other)
        }
    }

    /// The calling thread's event loop when it is one of the broker's, else the one `spread`
    /// picks (modulo the loop count): where plugin subscriptions and timers run.
    public func eventLoop(spread: Int) -> EventLoop { context(spread: spread).loop }

    private func context(spread: Int) -> LoopContext {
        contexts.first { $0.loop.inEventLoop } ?? contexts[Int(UInt(bitPattern: spread) % UInt(contexts.count))]
    }

    /// Waits until deliveries routed before the call have reached their sessions: two rounds of
    /// a task on every loop (the first lets batched cross-loop deliveries leave their loop, the
    /// second lets them arrive). A reload uses it before the old version stops receiving.
    public func settleDeliveries() async {
        for _ in 0..<2 {
            let rounds = contexts.map { $0.loop.submit {} }
            for round in rounds { try? await round.get() }
        }
    }

    /// Takes `subscription` out of the route table; no call of its handler starts afterwards (one
    /// already running on its loop may still finish). Callable from any thread; idempotent.
    public func unsubscribeForPlugin(_ subscription: PluginSubscription) {
        subscription.sink.cancel()
        router.unsubscribe(subscription.session, filter: subscription.filter)
    }
}
