import Atomics
import Logging
import MQTTCore
import NIOCore
import Synchronization

/// One client session: its subscriptions, the messages in flight to the client and queued for
/// it, and the QoS 2 packet ids it is releasing. Lives on one event loop (`context.loop`) and is
/// touched only there, so it needs no lock; other loops reach it through `LoopContext`.
///
/// A client that resumes its session on a new connection gets a new `Session` object on that
/// connection's loop; the old one hands its state over and forwards stragglers to its successor.
final class Session: LoopConfined, @unchecked Sendable {
    let clientId: String
    let context: LoopContext
    unowned let broker: Broker
    let online = ManagedAtomic<Bool>(false)

    /// Whether a client is connected to this session (read by shared-subscription dispatch on any loop).
    var isOnline: Bool { online.load(ordering: .relaxed) }

    // Loop-bound state: written by the session's own methods (here and in its extensions,
    // Session+Delivery and Session+HandOver) only; other types read it.
    var connection: MQTTConnection?
    var subscriptions: [String: SubscriptionOptions] = [:]
    var inflight: [UInt16: InflightMessage] = [:]
    /// Starts with room for one: most sessions never queue, and each idle connection has one.
    var queue = CircularBuffer<PendingMessage>(initialCapacity: 1)
    var queuedBytes = 0
    /// Incoming QoS 2 packet ids received (PUBREC sent) and not yet released by PUBREL.
    var awaitingRelease = Set<UInt16>()
    var nextPacketId: UInt16 = 1
    /// In-flight packet ids of an earlier connection not yet resent on this one, in send order.
    var awaitingRedelivery = CircularBuffer<UInt16>(initialCapacity: 1)
    /// Messages sent on the current connection and not yet acknowledged.
    var onTheWire: Int { inflight.count - awaitingRedelivery.count }
    var sequence: UInt64 = 0

    /// Seconds the session outlives its connection; 0 ends it with the connection.
    var expiryInterval: UInt32 = 0
    /// The user name of the client that made or took this session object (session hooks).
    var username: String?
    var expiryTimer: Scheduled<Void>?
    /// A will waiting for its delay (`deadline`) after the connection closed.
    var pendingWill: (message: Message, timer: Scheduled<Void>?, deadline: NIODeadline)?
    /// The session is kept in the durable store (`Session+Persistence`). Written on the session's
    /// loop; read on others too (a `sync` publish stores the copies for stored sessions itself).
    var isStored: Bool {
        get { storedFlag.load(ordering: .relaxed) }
        set { storedFlag.store(newValue, ordering: .relaxed) }
    }
    private let storedFlag = Atomic<Bool>(false)
    /// Packet ids left before a stored session's row is written again (`notePacketIdHandedOut`).
    var packetIdsBeforeRecord = 0
    /// When its last connection closed (wall-clock milliseconds; nil while connected), which
    /// its expiry counts from.
    var disconnectedAtMilliseconds: Int64?
    /// Where this session object is in its life.
    enum Lifecycle {
        /// Waiting for the state of the previous session object for the client id (`install`);
        /// hand-overs asked meanwhile run once it is in.
        case installing(waiting: [() -> Void])
        case active
        /// A newer session object on this node took the client id: deliveries that still reach
        /// this one go on to it.
        case replaced(by: Session)
        /// Leaving for another node: no new match reaches it, and what was matched before it left
        /// the route table still arrives and goes with the state.
        case leaving
        /// The state went to another node: later deliveries are not this node's to keep.
        case left
        case ended
    }

    var lifecycle = Lifecycle.installing(waiting: [])
    /// A newer session object, on this node or another, has taken (or is taking) this one's place.
    var isSuperseded: Bool {
        switch lifecycle {
        case .replaced, .leaving, .left: return true
        case .installing, .active, .ended: return false
        }
    }
    /// Set by `kick`: the session's end is reported as kicked.
    private var kicked = false

    /// Set for a plugin's subscription (`PluginSubscription`): a session that never has a
    /// connection and hands every message to the plugin instead of queueing it.
    let sink: PluginSink?
    /// `sink != nil`, as a plain flag: the fan-out reads it per delivery, and a flag costs no
    /// reference counting where the optional reference would.
    let isPluginSubscription: Bool

    init(clientId: String, context: LoopContext, broker: Broker) {
        self.clientId = clientId
        self.context = context
        self.broker = broker
        self.sink = nil
        self.isPluginSubscription = false
    }

    /// A plugin subscription's session: online (shared groups pick it), installed, never registered.
    init(clientId: String, context: LoopContext, broker: Broker, sink: PluginSink) {
        self.clientId = clientId
        self.context = context
        self.broker = broker
        self.sink = sink
        self.isPluginSubscription = true
        lifecycle = .active
        online.store(true, ordering: .relaxed)
    }

    var loop: EventLoop { context.loop }
    var inflightCount: Int { inflight.count }
    var queuedCount: Int { queue.count }

    // MARK: - Connection life

    /// Installs the state handed over by the previous session object (nil: a fresh session).
    /// `fromAnotherNode`: the state moved here from another cluster node, so its subscriptions
    /// enter this node's router now (a local hand-over rebinds them in the router itself).
    /// `restored`: the state came from the durable store, where it already is.
    func install(_ state: SessionState?, fromAnotherNode: Bool = false, restored: Bool = false) {
        assertOnLoop()
        if let state {
            if fromAnotherNode { broker.router.subscribeAll(self, filters: state.subscriptions) }
            subscriptions = state.subscriptions
            inflight = state.inflight
            // Messages forwarded to this object while the hand-over ran come after the old queue.
            var merged = state.queue
            merged.append(contentsOf: queue)
            queue = merged
            queuedBytes += state.queuedBytes
            awaitingRelease = state.awaitingRelease
            nextPacketId = state.nextPacketId
            sequence = state.sequence
        }
        guard case .installing(let waiting) = lifecycle else {
            preconditionFailure("a session's state is installed once")
        }
        lifecycle = .active
        if restored {
            isStored = true
        } else {
            storeInstalledState(connected: true, resumed: state != nil)
        }
        context.noteSession(state == nil ? \.sessionCreated : \.sessionResumed, self)
        waiting.forEach { $0() }
    }

    /// Attaches a live connection: redelivers what is in flight (DUP, same packet ids, within the
    /// new connection's receive maximum) and sends what is queued.
    func attach(_ connection: MQTTConnection) {
        assertOnLoop()
        self.connection = connection
        online.store(true, ordering: .relaxed)
        expiryTimer?.cancel()
        expiryTimer = nil
        awaitingRedelivery = CircularBuffer(
            inflight.sorted(by: { $0.value.sequence < $1.value.sequence }).map(\.key))
        pump()
    }

    /// The connection went away. `will` is the will to publish (already cleared on a normal
    /// DISCONNECT); it waits for its delay unless the session ends first.
    func connectionClosed(_ closed: MQTTConnection, will: Message?, willDelay: UInt32) {
        assertOnLoop()
        guard connection === closed else { return }
        connection = nil
        awaitingRedelivery.removeAll()
        online.store(false, ordering: .relaxed)
        redispatchSharedMessages()
        if let will {
            let delay = min(willDelay, expiryInterval)
            if delay == 0 {
                broker.publish(will, from: context, source: .will)
            } else {
                holdWill(will, for: .seconds(Int64(delay)))
            }
        }
        disconnectedAtMilliseconds = NIODeadline.wallClockMillisecondsNow
        if expiryInterval == 0 {
            end(kicked ? .kicked : .closed)
        } else {
            expire(in: .seconds(Int64(expiryInterval)))
            storeRecord(connected: false)
        }
    }

    /// Ends this session (no client connected) after `interval`, unless a client resumes it first.
    func expire(in interval: TimeAmount) {
        expiryTimer = loop.scheduleTask(in: interval) { [self] in
            expiryTimer = nil
            if connection == nil, case .active = lifecycle { end(.expired) }
        }
    }

    /// Publishes `will` after `delay` unless the session is resumed or ends first.
    func holdWill(_ will: Message, for delay: TimeAmount) {
        let timer = loop.scheduleTask(in: delay) { [self] in
            if let will = pendingWill?.message {
                pendingWill = nil
                storeRecord(connected: connection != nil)
                broker.publish(will, from: context, source: .will)
            }
        }
        pendingWill = (will, timer, .now() + delay)
    }

    /// Ends the session: its subscriptions leave the route table, its queue is discarded and a
    /// pending will is published now (the session ending is one of the will's triggers).
    func end(_ reason: SessionEndReason) {
        assertOnLoop()
        switch lifecycle {
        case .installing, .active: break
        case .replaced, .leaving, .left, .ended: return
        }
        // A client that has just claimed this id takes the session over instead.
        guard broker.release(self) else { return }
        lifecycle = .ended
        context.noteSession(\.sessionEnded, self, endReason: reason)
        expiryTimer?.cancel()
        unstoreAll()
        broker.router.unsubscribeAll(self, filters: subscriptions.keys)
        subscriptions = [:]
        inflight = [:]
        queue.removeAll()
        queuedBytes = 0
        if let will = pendingWill {
            will.timer?.cancel()
            pendingWill = nil
            broker.publish(will.message, from: context, source: .will)
        }
    }

    // MARK: - Subscriptions

    /// Records a subscription; returns true when the filter was not subscribed before.
    func addSubscription(_ filter: String, options: SubscriptionOptions) -> Bool {
        assertOnLoop()
        subscriptions[filter] = options
        storeRecord(connected: connection != nil)
        return broker.router.subscribe(self, filter: filter, options: options)
    }

    func removeSubscription(_ filter: String) -> Bool {

        assertOnLoop()
        guard subscriptions.removeValue(forKey: filter) != nil else { return false }
        storeRecord(connected: connection != nil)
        return broker.router.unsubscribe(self, filter: filter)
    }

    // MARK: - Introspection

    /// What the last connection of this session said about itself (kept while offline).
    private(set) var lastConnection: ConnectionInfo?

    func recordConnection(_ info: ConnectionInfo) { lastConnection = info }

    /// The session as the management API shows it. Runs on the session's loop.
    var clientInfo: ClientInfo {
        ClientInfo(clientId: clientId, username: lastConnection?.username, peer: lastConnection?.peer,
                   protocolVersion: lastConnection?.protocolVersion.description ?? "",
                   connected: connection != nil, keepAlive: lastConnection?.keepAlive ?? 0,
                   cleanStart: lastConnection?.cleanStart ?? true, connectedAt: lastConnection?.connectedAt,
                   sessionExpiryInterval: expiryInterval, subscriptions: subscriptions.count,
                   inflight: inflight.count, queued: queue.count,
                   tlsVersion: lastConnection?.security?.protocolVersion,
                   peerCertCommonName: lastConnection?.security?.peerCommonName)
    }

    /// This session's subscriptions, for the management API.
    var subscriptionInfos: [SubscriptionInfo] {
        subscriptions.map { SubscriptionInfo(clientId: clientId, filter: $0.key, options: $0.value) }
    }

    /// Closes the connection (5.0: DISCONNECT 0x98 administrative action) and discards the
    /// session, without its will. Runs on the session's loop.
    func kick() {
        assertOnLoop()
        expiryInterval = 0
        kicked = true
        if let connection {
            connection.dropWill()
            connection.disconnect(.administrativeAction, reason: "kicked by an administrator")
        } else {
            end(.kicked)
        }
    }
}
