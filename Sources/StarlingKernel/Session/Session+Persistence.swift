import MQTTCore
import NIOCore

/// A session that outlives its connection, on a broker with a durable store, keeps its state there
/// (`StoreWriter`): its row (subscriptions, expiry, delayed will) whenever that changes, and every
/// message it queues or has in flight, from the moment it holds it until it lets go of it.
extension Session {
    /// Starts or stops keeping this session in the store, as its expiry interval now says, once
    /// its state is installed: a session that is stored gets its row and the messages of its state
    /// that have none yet (a new session, or state that came from another node); one that no longer
    /// outlives its connection (`resumed` with expiry 0) leaves the store, row and all.
    func storeInstalledState(connected: Bool, resumed: Bool) {
        guard let store = context.store, !isPluginSubscription else { return }
        if expiryInterval > 0 {
            isStored = true
            storeRecord(connected: connected)
            for (packetId, entry) in inflight where entry.pending.storeKey == 0 {
                var stored = entry
                stored.pending.storeKey = store.add(entry.pending, for: clientId, packetId: packetId,
                                                    awaitingComplete: entry.phase == .awaitingComplete)
                inflight[packetId] = stored
            }
            for index in queue.indices where queue[index].storeKey == 0 {
                queue[index].storeKey = store.add(queue[index], for: clientId, packetId: nil, awaitingComplete: false)
            }
            for packetId in awaitingRelease { store.releaseAdded(packetId, for: clientId) }
        } else if resumed {
            // The previous object may have been stored, with or without messages: its row goes.
            isStored = true
            unstoreAll()
        }
    }

    /// Writes this session's row: subscriptions, expiry, whether it is connected, a delayed will.
    func storeRecord(connected: Bool) {
        guard isStored, let store = context.store else { return }
        let now = NIODeadline.now()
        let wallNow = NIODeadline.wallClockMillisecondsNow
        var will: (message: StoredMessage, atMilliseconds: Int64)?
        if let pendingWill {
            let at = wallNow + (pendingWill.deadline - now).nanoseconds / 1_000_000
            will = (pendingWill.message.stored(now: now, wallNowMilliseconds: wallNow), at)
        }
        store.sessionChanged(SessionRecord(
            clientId: clientId, expiryInterval: expiryInterval,
            disconnectedAtMilliseconds: connected ? nil : disconnectedAtMilliseconds ?? wallNow,
            state: SessionRecordBytes.encode(username: username, subscriptions: subscriptions, will: will,
                                             packetIdsFrom: packetIdsFrom)))
        packetIdsBeforeRecord = Self.packetIdReserve / 2
    }

    /// Packet ids a stored session may hand out before its row is written again: the row says to
    /// continue `packetIdReserve` ids on, so after a crash no id the client may still hold for an
    /// unfinished QoS 2 exchange is reused (until the ids come round, 65,535 later).
    static let packetIdReserve = 1000

    /// Where a restart continues handing out packet ids.
    private var packetIdsFrom: UInt16 {
        UInt16((Int(nextPacketId) - 1 + Self.packetIdReserve) % Int(UInt16.max) + 1)
    }

    /// Counts one packet id handed out by a stored session; writes its row when the reserve runs low.
    func notePacketIdHandedOut() {
        packetIdsBeforeRecord -= 1
        if packetIdsBeforeRecord <= 0 { storeRecord(connected: connection != nil) }
    }

    /// Stores a message this session now holds, or its new packet id or phase.
    func storeMessage(_ pending: inout PendingMessage, packetId: UInt16?, awaitingComplete: Bool = false) {
        guard isStored, let store = context.store else { return }
        if pending.storeKey == 0 {
            pending.storeKey = store.add(pending, for: clientId, packetId: packetId, awaitingComplete: awaitingComplete)
        } else {
            store.update(key: pending.storeKey, pending, for: clientId, packetId: packetId, awaitingComplete: awaitingComplete)
        }
    }

    /// Whether `pending`, new to this stored session, finds the store full: then it is dropped
    /// (counted and logged with reason `store_full`), and a `sync` acknowledgement waiting for it
    /// reports it as not stored.
    func refusedByFullStore(_ pending: PendingMessage) -> Bool {
        guard isStored, pending.storeKey == 0, let store = context.store, store.isFull else { return false }
        store.refused()
        if pending.qos == .atMostOnce {
            context.noteDrop(.storeFull, pending.message, subscriberId: clientId, qos: pending.qos)
        } else {
            broker.reportDrop(of: pending, session: self, reason: .storeFull)
        }
        return true
    }

    /// This session let go of a message.
    @inline(__always)
    func unstore(_ pending: PendingMessage) {
        guard pending.storeKey != 0, let store = context.store else { return }
        store.remove(key: pending.storeKey, pending.message)
    }

    func storeRelease(_ packetId: UInt16, awaited: Bool) {
        guard isStored, let store = context.store else { return }
        if awaited { store.releaseAdded(packetId, for: clientId) } else { store.releaseRemoved(packetId, for: clientId) }
    }

    /// The session leaves the store (ended, discarded, moved to another node, or resumed with
    /// expiry 0), with every message it holds there; the messages stay in memory, unstored.
    func unstoreAll() {
        guard isStored, let store = context.store else { return }
        isStored = false
        for (packetId, entry) in inflight where entry.pending.storeKey != 0 {
            unstore(entry.pending)
            inflight[packetId]!.pending.storeKey = 0
        }
        for index in queue.indices where queue[index].storeKey != 0 {
            unstore(queue[index])
            queue[index].storeKey = 0
        }
        store.sessionEnded(clientId)
    }
}
