import Atomics
import MQTTCore
import NIOCore

/// A newer connection for the client id takes the session over: the state moves to a new session
/// object on this node or to another node, or the session ends (clean start); and a member of a
/// shared group that leaves hands its unacknowledged group messages to other members.
extension Session {
    /// Where a session's state goes when a newer connection takes it over.
    enum Successor {
        /// A new session object on this node (any loop).
        case local(Session)
        /// Another node, which installs the state itself.
        case anotherNode
    }

    /// Hands this session over to `next` (a new connection for the same client id). Closes the
    /// current connection (5.0: DISCONNECT 0x8E). With `resume` the state moves to `next`;
    /// otherwise the session ends here. `completion` runs on this loop with the state to install.
    func handOver(to next: Successor, resume: Bool, completion: @escaping (SessionState?) -> Void) {
        assertOnLoop()
        switch lifecycle {
        case .installing(var waiting):
            waiting.append { [self] in handOver(to: next, resume: resume, completion: completion) }
            lifecycle = .installing(waiting: waiting)
            return
        case .replaced, .leaving, .left, .ended:
            return completion(nil)
        case .active:
            break
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
            lifecycle = .replaced(by: session)
        case .anotherNode:
            // The client id is the other node's now; this node keeps no session for it.
            lifecycle = resume ? .leaving : .left
            broker.release(self)
        }
        guard resume else {
            unstoreAll()
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
        case .anotherNode:
            // No new match reaches this session from now on; what other loops matched before
            // arrives by the time they have all run a turn, and goes with the state (and from
            // this node's store: the other node stores it).
            broker.router.unsubscribeAll(self, filters: subscriptions.keys)
            broker.afterOtherLoops(from: loop) { [self] in
                unstoreAll()
                lifecycle = .left
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

    /// Hands the shared-subscription messages this member holds unacknowledged (in flight or
    /// queued) to other members of their groups, since this member has gone.
    func redispatchSharedMessages() {
        assertOnLoop()
        var handed: [(Message, Delivery)] = []
        for (packetId, entry) in inflight where entry.pending.sharedGroup != nil && entry.phase == .awaitingAck {
            if let target = broker.router.redispatchTarget(for: entry.pending.sharedGroup!, topic: entry.pending.message.topic,
                                                           publisherId: entry.pending.message.publisherId, leaving: self) {
                inflight[packetId] = nil
                unstore(entry.pending)
                handed.append((entry.pending.message, target))
            }
        }
        var kept = CircularBuffer<PendingMessage>(initialCapacity: 1)
        for pending in queue {
            if let key = pending.sharedGroup,
               let target = broker.router.redispatchTarget(for: key, topic: pending.message.topic,
                                                           publisherId: pending.message.publisherId, leaving: self) {
                queuedBytes -= pending.payloadBytes
                unstore(pending)
                handed.append((pending.message, target))
            } else {
                kept.append(pending)
            }
        }
        queue = kept
        for (message, delivery) in handed { context.deliver(message, delivery) }
    }
}

extension Delivery {
    /// The same delivery addressed to a session's successor.
    init(forwarding delivery: Delivery, to session: Session) {
        self.init(session: session, options: SubscriptionOptions(qos: delivery.qos, retainAsPublished: delivery.retainAsPublished),
                  sharedGroup: delivery.sharedGroup)
        self.identifiers = delivery.identifiers
        self.storeKey = delivery.storeKey
    }
}
