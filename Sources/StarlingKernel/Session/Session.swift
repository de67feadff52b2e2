import Atomics
import Logging
import MQTTCore
import NIOCore

/// One client session: its subscriptions, the messages in flight to the client and queued for
/// it, and the QoS 2 packet ids it is releasing. Lives on one event loop (`context.loop`) and is
/// touched only there, so it needs no lock; other loops reach it through `LoopContext`.
///
/// A client that resumes its session on a new connection gets a new `Session` object on that
/// connection's loop; the old one hands its state over and forwards stragglers to `successor`.
final class Session: @unchecked Sendable {
    let clientId: String
    let context: LoopContext
    unowned let broker: Broker
    private let online = ManagedAtomic<Bool>(false)

    /// Whether a client is connected to this session (read by shared-subscription dispatch on any loop).
    var isOnline: Bool { online.load(ordering: .relaxed) }

    // Loop-bound state.
    private(set) var connection: MQTTConnection?
    private(set) var subscriptions: [String: SubscriptionOptions] = [:]
    private var inflight: [UInt16: InflightMessage] = [:]
    /// Starts with room for one: most sessions never queue, and each idle connection has one.
    private var queue = CircularBuffer<PendingMessage>(initialCapacity: 1)
    private var queuedBytes = 0
    /// Incoming QoS 2 packet ids received (PUBREC sent) and not yet released by PUBREL.
    private(set) var awaitingRelease = Set<UInt16>()
    private var nextPacketId: UInt16 = 1
    /// In-flight packet ids of an earlier connection not yet resent on this one, in send order.
    private var awaitingRedelivery = CircularBuffer<UInt16>(initialCapacity: 1)
    /// Messages sent on the current connection and not yet acknowledged.
    private var onTheWire: Int { inflight.count - awaitingRedelivery.count }
    private var sequence: UInt64 = 0

    /// Seconds the session outlives its connection; 0 ends it with the connection.
    var expiryInterval: UInt32 = 0
    /// The user name of the client that made or took this session object (session hooks).
    var username: String?
    private var expiryTimer: Scheduled<Void>?
    private var pendingWill: (message: Message, timer: Scheduled<Void>?)?
    /// Set once the state has been taken by a newer session object for the same client.
    private(set) var successor: Session?
    /// Set when the session moves to another cluster node (the node's name); from then on no
    /// other hand-over takes it.
    private(set) var movedTo: String?
    /// Set once a session moving to another node has given up its state: later deliveries are
    /// not its to keep.
    private var stateSent = false
    /// A newer session object, on this node or another, has taken (or is taking) this one's place.
    var isSuperseded: Bool { successor != nil || movedTo != nil }
    private(set) var ended = false
    /// Set by `kick`: the session's end is reported as kicked.
    private var kicked = false
    /// False until the state of a previous session object (if any) has been installed.
    private var installed = false
    private var afterInstall: [() -> Void] = []

    /// Set for a plugin's subscription (`LocalSubscription`): a session that never has a
    /// connection and hands every message to the plugin instead of queueing it.
    let sink: LocalSink?
    /// `sink != nil`, as a plain flag: the fan-out reads it per delivery, and a flag costs no
    /// reference counting where the optional reference would.
    let isLocal: Bool

    init(clientId: String, context: LoopContext, broker: Broker) {
        self.clientId = clientId
        self.context = context
        self.broker = broker
        self.sink = nil
        self.isLocal = false
    }

    /// A local subscriber's session: online (shared groups pick it), installed, never registered.
    init(clientId: String, context: LoopContext, broker: Broker, sink: LocalSink) {
        self.clientId = clientId
        self.context = context
        self.broker = broker
        self.sink = sink
        self.isLocal = true
        installed = true
        online.store(true, ordering: .relaxed)
    }

    var loop: EventLoop { context.loop }
    var inflightCount: Int { inflight.count }
    var queuedCount: Int { queue.count }

    // MARK: - Connection life

    /// Installs the state handed over by the previous session object (nil: a fresh session).
    /// `fromAnotherNode`: the state moved here from another cluster node, so its subscriptions
    /// enter this node's router now (a local hand-over rebinds them in the router itself).
    func install(_ state: SessionState?, fromAnotherNode: Bool = false) {
        loop.preconditionInEventLoop()
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
        installed = true
        context.noteSession(state == nil ? \.sessionCreated : \.sessionResumed, self)
        let waiting = afterInstall
        afterInstall = []
        waiting.forEach { $0() }
    }

    /// Attaches a live connection: redelivers what is in flight (DUP, same packet ids, within the
    /// new connection's receive maximum) and sends what is queued.
    func attach(_ connection: MQTTConnection) {
        loop.preconditionInEventLoop()
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
        loop.preconditionInEventLoop()
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
                let timer = loop.scheduleTask(in: .seconds(Int64(delay))) { [self] in
                    if let will = pendingWill?.message {
                        pendingWill = nil
                        broker.publish(will, from: context, source: .will)
                    }
                }
                pendingWill = (will, timer)
            }
        }
        if expiryInterval == 0 {
            end(kicked ? .kicked : .closed)
        } else {
            expiryTimer = loop.scheduleTask(in: .seconds(Int64(expiryInterval))) { [self] in
                expiryTimer = nil
                if connection == nil, successor == nil { end(.expired) }
            }
        }
    }

    /// Ends the session: its subscriptions leave the route table, its queue is discarded and a
    /// pending will is published now (the session ending is one of the will's triggers).
    func end(_ reason: SessionEndReason) {
        loop.preconditionInEventLoop()
        guard !ended else { return }
        // A client that has just claimed this id takes the session over instead.
        guard broker.registry.remove(clientId, ifCurrent: self) else { return }
        ended = true
        context.cluster?.clientReleased(clientId)
        context.noteSession(\.sessionEnded, self, endReason: reason)
        expiryTimer?.cancel()
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

    /// Where a session's state goes when a newer connection takes it over.
    enum Successor {
        /// A new session object on this node (any loop).
        case local(Session)
        /// Another cluster node, which will install the state itself (the node's name).
        case remote(String)
    }

    /// Hands this session over to `next` (a new connection for the same client id). Closes the
    /// current connection (5.0: DISCONNECT 0x8E). With `resume` the state moves to `next`;
    /// otherwise the session ends here. `completion` runs on this loop with the state to install.
    func handOver(to next: Successor, resume: Bool, completion: @escaping (SessionState?) -> Void) {
        loop.preconditionInEventLoop()
        guard installed else {
            afterInstall.append { [self] in handOver(to: next, resume: resume, completion: completion) }
            return
        }
        guard !ended, !isSuperseded else {
            completion(nil)
            return
        }
        let oldConnection = connection
        // Taken over only from a connection still open (not one whose DISCONNECT is being processed).
        let takenOver = oldConnection?.isOpen ?? false
        connection = nil
        awaitingRedelivery.removeAll()
        online.store(false, ordering: .relaxed)
        expiryTimer?.cancel()
        expiryTimer = nil
        // The will of a connection that is taken over goes out unless the new connection arrived
        // within its delay and resumes the session.
        let takenOverWill = oldConnection?.takeOver()
        if let will = takenOverWill, will.delay == 0 || !resume {
            broker.publish(will.message, from: context, source: .will)
        }
        if let pending = pendingWill {
            pending.timer?.cancel()
            pendingWill = nil
            if !resume { broker.publish(pending.message, from: context, source: .will) }
        }
        switch next {
        case .local(let session):
            successor = session
        case .remote(let node):
            // The client id is the other node's now; this node keeps no session for it.
            movedTo = node
            if broker.registry.remove(clientId, ifCurrent: self) { context.cluster?.clientReleased(clientId) }
        }
        guard resume else {
            ended = true
            context.noteSession(\.sessionEnded, self, endReason: .discarded)
            broker.router.unsubscribeAll(self, filters: subscriptions.keys)
            subscriptions = [:]
            completion(nil)
            return
        }
        if takenOver { context.noteSession(\.sessionTakenOver, self) }
        switch next {
        case .local(let session):
            broker.router.rebind(from: self, to: session, filters: subscriptions)
            completion(takeState())
        case .remote:
            // No new match reaches this session from now on; what other loops matched before
            // arrives by the time they have all run a turn, and goes with the state.
            broker.router.unsubscribeAll(self, filters: subscriptions.keys)
            broker.afterOtherLoops(from: loop) { [self] in
                stateSent = true
                completion(takeState())
            }
        }
    }

    /// The state to move, leaving this object empty.
    private func takeState() -> SessionState {
        let state = SessionState(subscriptions: subscriptions, inflight: inflight, queue: queue,
                                 queuedBytes: queuedBytes, awaitingRelease: awaitingRelease,
                                 nextPacketId: nextPacketId, sequence: sequence)
        subscriptions = [:]
        inflight = [:]
        queue.removeAll()
        queuedBytes = 0
        return state
    }

    // MARK: - Subscriptions

    /// Records a subscription; returns true when the filter was not subscribed before.
    func addSubscription(_ filter: String, options: SubscriptionOptions) -> Bool {
        subscriptions[filter] = options
        return broker.router.subscribe(self, filter: filter, options: options)
    }

    func removeSubscription(_ filter: String) -> Bool {
        guard subscriptions.removeValue(forKey: filter) != nil else { return false }
        return broker.router.unsubscribe(self, filter: filter)
    }

    // MARK: - Outgoing messages

    /// Delivers `message` as `delivery` describes: sent now if the client can take it,
    /// queued otherwise (bounded). Must run on this session's loop.
    func deliver(_ message: Message, _ delivery: Delivery) {
        if let successor {
            context.deliver(message, Delivery(forwarding: delivery, to: successor))
            return
        }
        guard !ended, !stateSent else { return }
        let qos = min(message.qos, delivery.qos)
        if message.expiresAt != nil, message.isExpired(at: .now()) {
            context.noteDrop(.expired, message, subscriberId: clientId, qos: qos)
            return
        }
        if isLocal {
            // A plugin's subscription: message_delivered fires as for a client's delivery (EMQX
            // fires message.delivered for every delivery), after the handler has it.
            let sink = sink.unsafelyUnwrapped
            if sink.receive(message, qos: qos) { context.noteDeliveredLocally(message, qos: qos, to: sink.owner) }
            return
        }
        let pending = PendingMessage(message: message, qos: qos,
                                     retain: delivery.retainAsPublished && message.retain,
                                     identifiers: delivery.identifiers, sharedGroup: delivery.sharedGroup)
        send(pending)
    }

    /// Sends a retained message matched by a new subscription (RETAIN flag set).
    func deliverRetained(_ message: Message, options: SubscriptionOptions) {
        let pending = PendingMessage(message: message, qos: min(message.qos, options.qos), retain: true,
                                     identifiers: options.identifier.map { [$0] } ?? [], sharedGroup: nil)
        send(pending)
    }

    private func send(_ pending: PendingMessage) {
        if let connection, queue.isEmpty {
            if pending.qos == .atMostOnce {
                if connection.isWritable {
                    connection.sendPublish(pending, packetId: nil, dup: false)
                    return
                }
            } else if onTheWire < connection.sendQuota, awaitingRedelivery.isEmpty {
                sendInflight(pending, on: connection)
                return
            }
        }
        enqueue(pending)
    }

    private func sendInflight(_ pending: PendingMessage, on connection: MQTTConnection) {
        let packetId = allocatePacketId()
        sequence &+= 1
        inflight[packetId] = InflightMessage(pending: pending, phase: .awaitingAck, sequence: sequence)
        if !connection.sendPublish(pending, packetId: packetId, dup: false), connection.isConnected {
            // Larger than the client accepts: dropped for this client (counted by the connection).
            inflight[packetId] = nil
        }
    }

    private func allocatePacketId() -> UInt16 {
        // The window is at most 65,535, so a free id always exists when a send is allowed.
        while true {
            let candidate = nextPacketId
            nextPacketId = nextPacketId == UInt16.max ? 1 : nextPacketId + 1
            if inflight[candidate] == nil { return candidate }
        }
    }

    private func enqueue(_ pending: PendingMessage) {
        let settings = context.settings.session
        if connection == nil, pending.qos == .atMostOnce, !settings.queueQoS0Offline {
            noteDrop(.qos0Offline, pending)
            return
        }
        let messageLimit = settings.maxQueuedMessages
        let byteLimit = settings.maxQueuedBytes
        if byteLimit > 0, pending.payloadBytes > byteLimit {
            // It can never fit: drop it rather than empty the queue for it.
            if pending.qos == .atMostOnce {
                noteDrop(.queueFull, pending)
            } else {
                broker.reportDrop(of: pending, session: self, reason: .queueFull)
            }
            return
        }
        while !queue.isEmpty,
              (messageLimit > 0 && queue.count >= messageLimit)
                || (byteLimit > 0 && queuedBytes + pending.payloadBytes > byteLimit) {
            // The oldest QoS 0 goes first; then the new message if it is QoS 0; then the oldest.
            if let index = queue.firstIndex(where: { $0.qos == .atMostOnce }) {
                let dropped = queue.remove(at: index)
                queuedBytes -= dropped.payloadBytes
                noteDrop(.queueFull, dropped)
            } else if pending.qos == .atMostOnce {
                noteDrop(.queueFull, pending)
                return
            } else {
                let dropped = queue.removeFirst()
                queuedBytes -= dropped.payloadBytes
                broker.reportDrop(of: dropped, session: self, reason: .queueFull)
            }
        }
        queue.append(pending)
        queuedBytes += pending.payloadBytes
    }

    /// Counts a QoS 0 (or expired) copy dropped for this session and tells `message_dropped` hooks.
    @inline(__always)
    private func noteDrop(_ reason: MessageDropReason, _ pending: PendingMessage) {
        context.noteDrop(reason, pending.message, subscriberId: clientId, qos: pending.qos)
    }

    /// Moves queued messages to the client while its window and socket allow: first the
    /// in-flight messages of an earlier connection, then the queue.
    func pump() {
        guard let connection else { return }
        while let packetId = awaitingRedelivery.first, onTheWire < connection.sendQuota {
            awaitingRedelivery.removeFirst()
            guard let entry = inflight[packetId] else { continue }
            switch entry.phase {
            case .awaitingAck:
                connection.sendPublish(entry.pending, packetId: packetId, dup: true)
            case .awaitingComplete:
                connection.sendAck(.pubrel(PublishAck(packetIdentifier: packetId)))
            }
        }
        guard awaitingRedelivery.isEmpty else { return }
        let now = NIODeadline.now()
        while let head = queue.first {
            if head.message.isExpired(at: now) {
                queuedBytes -= queue.removeFirst().payloadBytes
                noteDrop(.expired, head)
                continue
            }
            if head.qos == .atMostOnce {
                guard connection.isWritable else { return }
                queuedBytes -= head.payloadBytes
                connection.sendPublish(queue.removeFirst(), packetId: nil, dup: false)
            } else {
                guard onTheWire < connection.sendQuota else { return }
                queuedBytes -= head.payloadBytes
                sendInflight(queue.removeFirst(), on: connection)
            }
        }
    }

    // MARK: - Acknowledgements from the client

    /// Drops an acknowledged message from the in-flight set.
    private func forget(_ packetId: UInt16) {
        inflight[packetId] = nil
        if !awaitingRedelivery.isEmpty, let index = awaitingRedelivery.firstIndex(of: packetId) {
            awaitingRedelivery.remove(at: index)
        }
    }

    /// PUBACK (QoS 1) — returns false when no such message was in flight.
    func acknowledged(_ packetId: UInt16) -> Bool {
        guard let entry = inflight[packetId], entry.phase == .awaitingAck, entry.pending.qos == .atLeastOnce else {
            return false
        }
        forget(packetId)
        context.noteAcked(entry.pending, by: clientId, username: lastConnection?.username, packetId: packetId)
        pump()
        return true
    }

    /// PUBREC (QoS 2, first half) — returns false when no such message was in flight.
    func received(_ packetId: UInt16, reasonCode: ReasonCode) -> Bool {
        guard var entry = inflight[packetId], entry.pending.qos == .exactlyOnce else { return false }
        if reasonCode.isError {
            forget(packetId)
            pump()
            return true
        }
        entry.phase = .awaitingComplete
        inflight[packetId] = entry
        return true
    }

    /// PUBCOMP (QoS 2, second half) — returns false when no such message was awaiting it.
    func completed(_ packetId: UInt16) -> Bool {
        guard let entry = inflight[packetId], entry.phase == .awaitingComplete else { return false }
        forget(packetId)
        context.noteAcked(entry.pending, by: clientId, username: lastConnection?.username, packetId: packetId)
        pump()
        return true
    }

    // MARK: - Incoming QoS 2

    /// Records an incoming QoS 2 PUBLISH; false means it is a duplicate already routed.
    func beginIncomingExactlyOnce(_ packetId: UInt16) -> Bool {
        awaitingRelease.insert(packetId).inserted
    }

    /// PUBREL from the client; false when the id was unknown.
    func releaseIncoming(_ packetId: UInt16) -> Bool {
        awaitingRelease.remove(packetId) != nil
    }

    // MARK: - Shared subscriptions

    /// Hands the shared-subscription messages this member holds unacknowledged (in flight or
    /// queued) to other members of their groups, since this member has gone.
    private func redispatchSharedMessages() {
        var handed: [(Message, Delivery)] = []
        for (packetId, entry) in inflight where entry.pending.sharedGroup != nil && entry.phase == .awaitingAck {
            if let target = broker.router.redispatchTarget(for: entry.pending.sharedGroup!, topic: entry.pending.message.topic,
                                                           publisherId: entry.pending.message.publisherId, leaving: self) {
                inflight[packetId] = nil
                handed.append((entry.pending.message, target))
            }
        }
        var kept = CircularBuffer<PendingMessage>(initialCapacity: 1)
        for pending in queue {
            if let key = pending.sharedGroup,
               let target = broker.router.redispatchTarget(for: key, topic: pending.message.topic,
                                                           publisherId: pending.message.publisherId, leaving: self) {
                queuedBytes -= pending.payloadBytes
                handed.append((pending.message, target))
            } else {
                kept.append(pending)
            }
        }
        queue = kept
        for (message, delivery) in handed { context.deliver(message, delivery) }
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
                   inflight: inflight.count, queued: queue.count)
    }

    /// This session's subscriptions, for the management API.
    var subscriptionInfos: [SubscriptionInfo] {
        subscriptions.map { SubscriptionInfo(clientId: clientId, filter: $0.key, options: $0.value) }
    }

    /// Closes the connection (5.0: DISCONNECT 0x98 administrative action) and discards the
    /// session, without its will. Runs on the session's loop.
    func kick() {
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

extension Delivery {
    /// The same delivery addressed to a session's successor.
    init(forwarding delivery: Delivery, to session: Session) {
        self.init(session: session, options: SubscriptionOptions(qos: delivery.qos, retainAsPublished: delivery.retainAsPublished),
                  sharedGroup: delivery.sharedGroup)
        self.identifiers = delivery.identifiers
    }
}
