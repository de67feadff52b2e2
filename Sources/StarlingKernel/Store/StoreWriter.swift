#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

/// Takes the changes the broker's event loops make to what must be durable, and commits them to a
/// `PersistentStore` from one thread of its own, in groups: the first change of a group waits at
/// most `flushInterval` for others to join it, so an event loop never waits for a disk and a busy
/// broker pays one commit for many changes.
///
/// Changes are coalesced while they wait: the last state of a retained topic or session row wins,
/// and a session message stored and removed within one group (a QoS 1 message to an online
/// client, acknowledged at once) never reaches the disk. A message held by many sessions is
/// stored once and removed with its last reference.
final class StoreWriter: @unchecked Sendable {  // everything below `lock` is guarded by it
    let flushInterval: TimeAmount
    let durability: StoreDurability
    /// The most the store may take (`storage.max_bytes`; 0: no limit).
    let maxBytes: Int64
    /// The store is at `maxBytes`, or its last commit failed: new messages for stored sessions
    /// are dropped (`store_full`) until a commit succeeds with room to spare. Read on the loops.
    private let fullFlag = Atomic<Bool>(false)
    var isFull: Bool { fullFlag.load(ordering: .relaxed) }
    private let backend: any PersistentStore
    private let logger: Logger
    private let thread = NIOThreadPool(numberOfThreads: 1)
    /// 1: changes or a stop are waiting for the writer; 0: nothing to do.
    private let lock = ConditionLock<Int>(value: 0)
    private let finished = ConditionLock<Bool>(value: false)

    private var pending = PendingChanges()
    /// `atomically` scopes open now, and whether the writer waits to take a group.
    private let scopes = Mutex<(open: Int, writerWaiting: Bool)>((0, false))
    private var stopping = false
    /// Changes made so far, and how many of them are committed.
    private var changes: UInt64 = 0
    private var committed: UInt64 = 0
    /// `whenCommitted` callbacks, in the order of the change count each waits for.
    private var waiters: [(upTo: UInt64, callback: @Sendable (Bool) -> Void)] = []
    /// The change counts at which a message was refused for a full store (for `whenCommitted`),
    /// and the count the last waiters were settled up to.
    private var refusals: [UInt64] = []
    private var settledUpTo: UInt64 = 0
    private var nextKey: Int64
    private var nextMessageId: Int64
    /// The sessions holding each stored message (pending or committed).
    private var references: [Int64: Int32]
    /// A group that failed to commit, retried with everything newer merged into it (writer thread
    /// only): a later removal cancels an insert that never reached the disk, so draining a queue
    /// makes room even while the disk is full.
    private var failed: PendingChanges?
    private var lastFailureLog: NIODeadline?
    /// No failed group waits to be retried (set by the writer under `lock`, for `whenCommitted`).
    private var nothingUnwritten = true

    /// - Parameters:
    ///   - contents: what `backend` holds now (its keys and message ids continue from there).
    init(backend: any PersistentStore, contents: StoreContents, flushInterval: TimeAmount, durability: StoreDurability,
         maxBytes: Int64, logger: Logger) {
        self.backend = backend
        self.maxBytes = maxBytes
        self.flushInterval = flushInterval
        self.durability = durability
        self.logger = logger
        nextKey = (contents.sessionMessages.map(\.key).max() ?? 0) + 1
        nextMessageId = (contents.messages.keys.max() ?? 0) + 1
        var references: [Int64: Int32] = [:]
        for record in contents.sessionMessages { references[record.messageId, default: 0] += 1 }
        self.references = references
        // Messages no session holds any more (a crash between two commits cannot leave them, but
        // an older store might) go with the first commit.
        for id in contents.messages.keys where references[id] == nil { pending.removedMessages.insert(id) }
        updateFullness(committed: true)
        thread.start()
        thread.submit { [self] _ in run() }
    }

    // MARK: - Changes (any thread)

    func retainedChanged(_ record: RetainedRecord) {
        change { $0.retained[record.topic] = record }
    }

    /// A stored session's row, written anew.
    func sessionChanged(_ record: SessionRecord) {
        change { $0.sessions[record.clientId] = record }
    }

    /// A stored session ended: its row and its awaiting-release ids go (its messages go one by
    /// one through `remove`).
    func sessionEnded(_ clientId: String) {
        change { $0.endSession(clientId) }
    }

    /// A message entered a stored session (queued, or sent with `packetId`): returns its key.
    /// Nothing is encoded here: the writer encodes what is still there when it commits (a message
    /// acknowledged within the group never is).
    func add(_ pending: PendingMessage, for clientId: String, packetId: UInt16?, awaitingComplete: Bool) -> Int64 {
        let message = pending.message
        var key: Int64 = 0
        change { changes in
            key = nextKey
            nextKey += 1
            var id = message.storeId.load(ordering: .relaxed)
            if id == 0 {
                id = nextMessageId
                nextMessageId += 1
                message.storeId.store(id, ordering: .relaxed)
                changes.messages[id] = message
            }
            references[id, default: 0] += 1
            changes.putSessionMessage(SessionMessageChange.Entry(key: key, clientId: clientId, messageId: id, packetId: packetId,
                                                                 awaitingComplete: awaitingComplete, pending: pending),
                                      isNew: true)
        }
        return key
    }

    /// A stored session message was sent (`packetId`) or reached PUBREC (`awaitingComplete`).
    func update(key: Int64, _ pending: PendingMessage, for clientId: String, packetId: UInt16?, awaitingComplete: Bool) {
        change { changes in
            let id = pending.message.storeId.load(ordering: .relaxed)
            changes.putSessionMessage(SessionMessageChange.Entry(key: key, clientId: clientId, messageId: id, packetId: packetId,
                                                                 awaitingComplete: awaitingComplete, pending: pending),
                                      isNew: false)
        }
    }

    /// A stored session let go of a message (acknowledged, dropped, expired, or the session went):
    /// the message itself goes with its last reference.
    func remove(key: Int64, _ message: Message) {
        change { pending in
            if dereference(message.storeId.load(ordering: .relaxed), removing: key, from: &pending) {
                // A later reference (a retained message delivered again) stores the message anew.
                message.storeId.store(0, ordering: .relaxed)
            }
        }
    }

    /// `remove` for a session message that was never read back (start-up: expired or unreadable).
    func remove(key: Int64, messageId: Int64) {
        change { pending in _ = dereference(messageId, removing: key, from: &pending) }
    }

    /// Removes session message `key` and its reference to message `id`; true when that was the
    /// last one and the message goes too.
    private func dereference(_ id: Int64, removing key: Int64, from pending: inout PendingChanges) -> Bool {
        pending.removeSessionMessage(key)
        guard let count = references[id] else { return false }
        if count > 1 {
            references[id] = count - 1
            return false
        }
        references[id] = nil
        if pending.messages.removeValue(forKey: id) == nil { pending.removedMessages.insert(id) }
        return true
    }

    /// A stored session dropped a new message because the store is full: acknowledgements that
    /// wait for the changes up to now (`sync`) report it as not stored.
    func refused() {
        lock.lock()
        changes &+= 1
        refusals.append(changes)
        lock.unlock(withValue: 1)
    }

    func releaseAdded(_ packetId: UInt16, for clientId: String) {
        change { $0.setRelease(ReleaseRecord(clientId: clientId, packetId: packetId), present: true) }
    }

    func releaseRemoved(_ packetId: UInt16, for clientId: String) {
        change { $0.setRelease(ReleaseRecord(clientId: clientId, packetId: packetId), present: false) }
    }

    /// Whether a publish of `qos` stores its sessions' copies itself (`storeCopies`, in an
    /// `atomically` scope): QoS 2 always, so that its awaiting-release id never commits without
    /// them (a resend after a crash would be taken for one already routed); QoS 1 under `sync`, so
    /// that the PUBACK counts every copy, on every loop.
    func storesCopiesAtPublish(of qos: QoS) -> Bool {
        qos == .exactlyOnce || (qos == .atLeastOnce && durability == .sync)
    }

    /// Stores the copies of `message` that stored sessions among `deliveries` will hold (QoS 1/2),
    /// from the publisher's loop, so that they commit with the rest of the publish (`atomically`);
    /// each delivery carries its key to the session. With the store full, nothing is stored and
    /// the publish is marked refused.
    func storeCopies(of message: Message, for deliveries: inout [Delivery]) {
        for index in deliveries.indices {
            let delivery = deliveries[index]
            let session = delivery.session
            guard session.isStored, !session.isPluginSubscription, delivery.qos != .atMostOnce else { continue }
            if isFull {
                refused()
                return
            }
            let pending = PendingMessage(message: message, qos: min(message.qos, delivery.qos),
                                         retain: delivery.retainAsPublished && message.retain,
                                         identifiers: delivery.identifiers, sharedGroup: delivery.sharedGroup)
            deliveries[index].storeKey = add(pending, for: session.clientId, packetId: nil, awaitingComplete: false)
        }
    }

    /// Runs `body` (changes that belong together: a publish, its awaiting-release id, its retained
    /// change and its stored copies) so that no commit holds part of them. Scopes on several loops
    /// run at once; the writer waits for the open ones to finish before it takes a group, and new
    /// ones wait for that moment to pass.
    func atomically<Result>(_ body: () throws -> Result) rethrows -> Result {
        while true {
            let entered = scopes.withLock { state -> Bool in
                guard !state.writerWaiting else { return false }
                state.open += 1
                return true
            }
            if entered { break }
            sched_yield()
        }
        defer { scopes.withLock { $0.open -= 1 } }
        return try body()
    }

    private func change(_ body: (inout PendingChanges) -> Void) {
        lock.lock()
        body(&pending)
        changes &+= 1
        lock.unlock(withValue: 1)
    }

    /// Calls `callback` (on the writer's thread, or at once on the caller's) once every change made
    /// so far is committed: true; or with false when the commit that holds them failed (it is
    /// retried, but what waits on it is not acknowledged as stored).
    func whenCommitted(_ callback: @escaping @Sendable (Bool) -> Void) {
        lock.lock()
        // Callbacks keep the order they were asked for in (acknowledgements leave in order).
        guard changes > committed || !nothingUnwritten || !waiters.isEmpty else {
            lock.unlock()
            return callback(true)
        }
        waiters.append((changes, callback))
        lock.unlock()
    }

    // MARK: - The writer

    /// Commits what is waiting, stops the writer and returns once it has. A commit that fails at
    /// this point is not retried: a shutdown never waits on a disk that refuses writes.
    func close() {
        lock.lock()
        stopping = true
        lock.unlock(withValue: 1)
        finished.lock(whenValue: true)
        finished.unlock()
        try? thread.syncShutdownGracefully()
    }

    private func run() {
        while true {
            lock.lock(whenValue: 1)
            var stop = stopping
            lock.unlock()
            // Let the group gather: changes arriving within the flush interval share the commit.
            if !stop && flushInterval.nanoseconds > 0 { usleep(UInt32(clamping: flushInterval.nanoseconds / 1000)) }
            // No open `atomically` scope may be split by the group taken now.
            scopes.withLock { $0.writerWaiting = true }
            while scopes.withLock({ $0.open }) > 0 { sched_yield() }
            lock.lock()
            stop = stopping
            var group = pending
            pending = PendingChanges()
            scopes.withLock { $0.writerWaiting = false }
            let upTo = changes
            if !group.isEmpty { nothingUnwritten = false }
            lock.unlock(withValue: stop ? 1 : 0)
            if var older = failed {
                older.absorb(group)
                group = older
                failed = nil
            }
            if group.isEmpty {
                settle(upTo: upTo, stored: true)  // coalesced to nothing: committed as it is
            } else {
                commit(group, upTo: upTo, finalAttempt: stop)
            }
            if stop {
                finished.lock()
                finished.unlock(withValue: true)
                return
            }
        }
    }

    /// Commits `group` (the changes up to `upTo`). On a failure keeps it for the next round, which
    /// comes a second later whether or not anything new arrives (logged at most every 10 s), unless
    /// this is the final attempt: a shutdown never waits on a disk that refuses writes.
    private func commit(_ group: PendingChanges, upTo: UInt64, finalAttempt: Bool) {
        let batch = group.batch()
        do {
            try backend.write(batch)
            updateFullness(committed: true)
            settle(upTo: upTo, stored: true)
        } catch {
            updateFullness(committed: false)
            settle(upTo: upTo, stored: false)
            if finalAttempt {
                logger.error("store: cannot write at shutdown: \(error); \(batch.count) changes are lost")
                return
            }
            failed = group
            let now = NIODeadline.now()
            if lastFailureLog.map({ now - $0 >= .seconds(10) }) ?? true {
                lastFailureLog = now
                logger.error("store: cannot write: \(error); retrying (this message at most every 10 s)")
            }
            usleep(1_000_000)
            lock.lock()
            lock.unlock(withValue: 1)  // the next round retries, new changes or not
        }
    }

    /// The changes up to `upTo` are committed (`stored`), or their commit failed: their waiters
    /// hear it. A waiter whose changes include a refused message hears false too.
    private func settle(upTo: UInt64, stored: Bool) {
        lock.lock()
        if stored {
            committed = max(committed, upTo)
            nothingUnwritten = true
        }
        var due: [(callback: @Sendable (Bool) -> Void, stored: Bool)] = []
        while let waiter = waiters.first, waiter.upTo <= upTo {
            waiters.removeFirst()
            let from = settledUpTo
            let refused = refusals.contains { $0 > from && $0 <= waiter.upTo }
            settledUpTo = waiter.upTo
            due.append((waiter.callback, stored && !refused))
        }
        refusals.removeAll { $0 <= settledUpTo }
        lock.unlock()
        for waiter in due { waiter.callback(waiter.stored) }
    }

    /// After a commit (`committed`) or a failed one: whether new messages still fit. Logs each change.
    private func updateFullness(committed: Bool) {
        var used = committed && maxBytes > 0 ? backend.bytesUsed() : 0
        if used >= maxBytes && maxBytes > 0 {
            backend.compact()
            used = backend.bytesUsed()
        }
        let full = !committed || (maxBytes > 0 && used >= maxBytes)
        guard full != fullFlag.load(ordering: .relaxed) else { return }
        fullFlag.store(full, ordering: .relaxed)
        if full {
            logger.error("store full\(committed ? " (\(used) of storage.max_bytes \(maxBytes) bytes)" : " (a commit failed)"): new QoS 1/2 messages for stored sessions are dropped (reason store_full) until there is room")
        } else {
            logger.notice("store has room again\(maxBytes > 0 ? " (\(used) of \(maxBytes) bytes)" : ""): stored sessions take new messages")
        }
    }
}

/// When a publisher's or subscriber's acknowledgement may go out (`storage.durability`).
public enum StoreDurability: String, Sendable, CaseIterable {
    /// At once: a crash loses at most the last `flush_interval` and one commit.
    case batch
    /// After the commit of what the packet changed in the store (PUBACK, PUBREC, PUBREL, PUBCOMP,
    /// SUBACK, UNSUBACK).
    case sync
}

/// A session message's change waiting for the next commit.
private enum SessionMessageChange {
    /// `committed`: the row was in the store before this group.
    case put(Entry, committed: Bool)
    case remove

    /// A session message row, its delivery options still unencoded.
    struct Entry {
        let key: Int64
        let clientId: String
        let messageId: Int64
        let packetId: UInt16?
        let awaitingComplete: Bool
        let pending: PendingMessage

        var record: SessionMessageRecord {
            SessionMessageRecord(key: key, clientId: clientId, messageId: messageId, packetId: packetId,
                                 awaitingComplete: awaitingComplete, delivery: SessionRecordBytes.encodeDelivery(of: pending))
        }
    }
}

/// The changes waiting for the next commit, coalesced.
private struct PendingChanges {
    var retained: [String: RetainedRecord] = [:]
    var endedSessions: Set<String> = []
    var sessions: [String: SessionRecord] = [:]
    /// Messages to insert, encoded when the group is taken.
    var messages: [Int64: Message] = [:]
    var removedMessages: Set<Int64> = []
    var sessionMessages: [Int64: SessionMessageChange] = [:]
    var releases: [ReleaseRecord: ReleaseChange] = [:]

    struct ReleaseChange {
        var committed: Bool
        var present: Bool
    }

    /// A session ended: its row and awaiting-release ids go first in the commit, so changes of
    /// them made before the end are dropped here (they would come back after the delete).
    mutating func endSession(_ clientId: String) {
        sessions[clientId] = nil
        endedSessions.insert(clientId)
        if !releases.isEmpty { releases = releases.filter { $0.key.clientId != clientId } }
    }

    var isEmpty: Bool {
        retained.isEmpty && endedSessions.isEmpty && sessions.isEmpty && messages.isEmpty && removedMessages.isEmpty
            && sessionMessages.isEmpty && releases.allSatisfy { $0.value.committed == $0.value.present }
    }

    /// Puts `newer` (the changes made after these) on top, as if they had been made here.
    mutating func absorb(_ newer: PendingChanges) {
        retained.merge(newer.retained) { _, latest in latest }
        for clientId in newer.endedSessions { endSession(clientId) }
        sessions.merge(newer.sessions) { _, latest in latest }
        messages.merge(newer.messages) { _, latest in latest }
        for id in newer.removedMessages where messages.removeValue(forKey: id) == nil { removedMessages.insert(id) }
        for (key, change) in newer.sessionMessages {
            switch change {
            case .put(let entry, let committed): putSessionMessage(entry, isNew: !committed)
            case .remove: removeSessionMessage(key)
            }
        }
        for (release, change) in newer.releases {
            if releases[release] != nil { releases[release]!.present = change.present } else { releases[release] = change }
        }
    }

    mutating func putSessionMessage(_ record: SessionMessageChange.Entry, isNew: Bool) {
        if case .put(_, let committed)? = sessionMessages[record.key] {
            sessionMessages[record.key] = .put(record, committed: committed)
        } else {
            sessionMessages[record.key] = .put(record, committed: !isNew)
        }
    }

    mutating func removeSessionMessage(_ key: Int64) {
        if case .put(_, committed: false)? = sessionMessages[key] {
            sessionMessages[key] = nil  // never reached the disk
        } else {
            sessionMessages[key] = .remove
        }
    }

    mutating func setRelease(_ release: ReleaseRecord, present: Bool) {
        if releases[release] != nil {
            releases[release]!.present = present
        } else {
            releases[release] = ReleaseChange(committed: !present, present: present)
        }
    }

    /// The batch to commit: the changes encoded (messages and delivery options, on the writer's thread).
    func batch() -> StoreBatch {
        var batch = StoreBatch()
        batch.retained = Array(retained.values)
        batch.endedSessions = Array(endedSessions)
        batch.sessions = Array(sessions.values)
        let now = NIODeadline.now()
        let wallNow = NIODeadline.wallClockMillisecondsNow
        batch.messages = messages.map { (id: $0.key, message: $0.value.stored(now: now, wallNowMilliseconds: wallNow)) }
        for (key, change) in sessionMessages {
            switch change {
            case .put(let entry, _): batch.sessionMessages.append(entry.record)
            case .remove: batch.removedSessionMessages.append(key)
            }
        }
        for (release, change) in releases where change.committed != change.present {
            if change.present { batch.addedReleases.append(release) } else { batch.removedReleases.append(release) }
        }
        batch.removedMessages = Array(removedMessages)
        return batch
    }
}
