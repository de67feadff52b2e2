import Atomics
import MQTTCore
import NIOCore

/// Messages to the client: sent at once while its window and socket allow, queued (bounded)
/// otherwise, redelivered on a new connection; and the acknowledgements that free the window.
extension Session {
    /// Delivers `message` as `delivery` describes: sent now if the client can take it,
    /// queued otherwise (bounded). Must run on this session's loop.
    func deliver(_ message: Message, _ delivery: Delivery) {
        assertOnLoop()
        switch lifecycle {
        case .installing, .active, .leaving: break
        case .replaced(let successor):
            return context.deliver(message, Delivery(forwarding: delivery, to: successor))
        case .left, .ended:
            if delivery.storeKey != 0 { context.store?.remove(key: delivery.storeKey, message) }
            return
        }
        let qos = min(message.qos, delivery.qos)
        if message.expiresAt != nil, message.isExpired(at: .now()) {
            if delivery.storeKey != 0 { context.store?.remove(key: delivery.storeKey, message) }
            context.noteDrop(.expired, message, subscriberId: clientId, qos: qos)
            return
        }
        if isPluginSubscription {
            // A plugin's subscription: message_delivered fires as for a client's delivery (EMQX
            // fires message.delivered for every delivery), after the handler has it.
            let sink = sink.unsafelyUnwrapped
            if sink.receive(message, qos: qos) { context.noteDeliveredToPlugin(message, qos: qos, to: sink.owner) }
            return
        }
        let pending = PendingMessage(message: message, qos: qos,
                                     retain: delivery.retainAsPublished && message.retain,
                                     identifiers: delivery.identifiers, sharedGroup: delivery.sharedGroup,
                                     storeKey: delivery.storeKey)
        send(pending)
    }

    /// Sends a retained message matched by a new subscription (RETAIN flag set).
    func deliverRetained(_ message: Message, options: SubscriptionOptions) {
        assertOnLoop()
        let pending = PendingMessage(message: message, qos: min(message.qos, options.qos), retain: true,
                                     identifiers: options.identifier.map { [$0] } ?? [], sharedGroup: nil)
        send(pending)
    }

    private func send(_ pending: PendingMessage) {
        var pending = pending
        if pending.storeKey != 0, !isStored {
            // Stored by a `sync` publish while this session was leaving the store.
            unstore(pending)
            pending.storeKey = 0
        }
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
        if isStored, refusedByFullStore(pending) { return }
        let packetId = allocatePacketId()
        sequence &+= 1
        var pending = pending
        if isStored {
            notePacketIdHandedOut()
            storeMessage(&pending, packetId: packetId)
        }
        inflight[packetId] = InflightMessage(pending: pending, phase: .awaitingAck, sequence: sequence)
        if pending.qos == .exactlyOnce, isStored, let store = context.store, store.durability == .sync {
            return sendOnceStored(packetId, key: pending.storeKey, on: connection, store: store)
        }
        if !connection.sendPublish(pending, packetId: packetId, dup: false), connection.isConnected {
            // Larger than the client accepts: dropped for this client (counted by the connection).
            inflight[packetId] = nil
            unstore(pending)
        }
    }

    /// `sync`: a QoS 2 message goes to the client once its packet id is committed, so that after a
    /// crash the broker never gives that id to another message while the client may still hold it
    /// awaiting PUBREL (the client would take the other message for a resend). A connection that
    /// closes meanwhile gets it again, with DUP, from the next one.
    private func sendOnceStored(_ packetId: UInt16, key: Int64, on connection: MQTTConnection, store: StoreWriter) {
        let session = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let sentOn = ObjectIdentifier(connection)
        store.whenCommitted { _ in
            loop.execute {
                let session = session.value
                guard let connection = session.connection, ObjectIdentifier(connection) == sentOn,
                      let entry = session.inflight[packetId], entry.pending.storeKey == key, entry.phase == .awaitingAck,
                      !session.awaitingRedelivery.contains(packetId) else { return }
                if !connection.sendPublish(entry.pending, packetId: packetId, dup: false), connection.isConnected {
                    session.forget(packetId)  // larger than the client accepts (counted by the connection)
                    session.pump()
                }
            }
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
        if isStored, refusedByFullStore(pending) { return }
        let settings = context.settings.session
        if connection == nil, pending.qos == .atMostOnce, !settings.queueQoS0Offline {
            noteDrop(.qos0Offline, pending)
            return
        }
        let messageLimit = settings.maxQueuedMessages
        let byteLimit = settings.maxQueuedBytes
        if byteLimit > 0, pending.payloadBytes > byteLimit {
            // It can never fit: drop it rather than empty the queue for it.
            unstore(pending)
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
                unstore(dropped)
                noteDrop(.queueFull, dropped)
            } else if pending.qos == .atMostOnce {
                unstore(pending)
                noteDrop(.queueFull, pending)
                return
            } else {
                let dropped = queue.removeFirst()
                queuedBytes -= dropped.payloadBytes
                unstore(dropped)
                broker.reportDrop(of: dropped, session: self, reason: .queueFull)
            }
        }
        var pending = pending
        if isStored, pending.storeKey == 0 { storeMessage(&pending, packetId: nil) }
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
        assertOnLoop()
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
                unstore(head)
                noteDrop(.expired, head)
                continue
            }
            if head.qos == .atMostOnce {
                guard connection.isWritable else { return }
                queuedBytes -= head.payloadBytes
                unstore(head)
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
    func forget(_ packetId: UInt16) {
        if let entry = inflight.removeValue(forKey: packetId) { unstore(entry.pending) }
        if !awaitingRedelivery.isEmpty, let index = awaitingRedelivery.firstIndex(of: packetId) {
            awaitingRedelivery.remove(at: index)
        }
    }

    /// PUBACK (QoS 1) — returns false when no such message was in flight.
    func acknowledged(_ packetId: UInt16) -> Bool {
        assertOnLoop()
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
        assertOnLoop()
        guard var entry = inflight[packetId], entry.pending.qos == .exactlyOnce else { return false }
        if reasonCode.isError {
            forget(packetId)
            pump()
            return true
        }
        entry.phase = .awaitingComplete
        if isStored { storeMessage(&entry.pending, packetId: packetId, awaitingComplete: true) }
        inflight[packetId] = entry
        return true
    }

    /// PUBCOMP (QoS 2, second half) — returns false when no such message was awaiting it.
    func completed(_ packetId: UInt16) -> Bool {
        assertOnLoop()
        guard let entry = inflight[packetId], entry.phase == .awaitingComplete else { return false }
        forget(packetId)
        context.noteAcked(entry.pending, by: clientId, username: lastConnection?.username, packetId: packetId)
        pump()
        return true
    }

    // MARK: - Incoming QoS 2

    /// Records an incoming QoS 2 PUBLISH; false means it is a duplicate already routed.
    func beginIncomingExactlyOnce(_ packetId: UInt16) -> Bool {
        assertOnLoop()
        guard awaitingRelease.insert(packetId).inserted else { return false }
        if isStored { storeRelease(packetId, awaited: true) }
        return true
    }

    /// PUBREL from the client; false when the id was unknown.
    func releaseIncoming(_ packetId: UInt16) -> Bool {
        assertOnLoop()
        guard awaitingRelease.remove(packetId) != nil else { return false }
        if isStored { storeRelease(packetId, awaited: false) }
        return true
    }
}
