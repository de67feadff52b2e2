import MQTTCore
import NIOConcurrencyHelpers
import NIOCore

/// What `Broker.restore` put back, for the start-up log.
public struct RestoreSummary: Sendable {
    public var retained = 0
    public var sessions = 0
    /// Messages the restored sessions hold (queued and in flight).
    public var sessionMessages = 0
    /// Sessions whose expiry passed while the broker was down (discarded now).
    public var expiredSessions = 0
    /// Messages that expired while the broker was down (dropped now).
    public var expiredMessages = 0
    /// What could not be read (each left out, and named).
    public var unreadable: [String] = []
}

extension Broker {
    /// Puts back what `backend` holds (start-up, before any listener opens, plugins or cluster):
    /// retained messages, and sessions with their subscriptions in the route table, their queued
    /// and in-flight messages, awaiting-release ids, expiry timers and delayed wills. Time the broker
    /// was down counts: a session or message whose expiry passed meanwhile is discarded, a will
    /// whose delay passed goes out now. From then on every durable change is committed to
    /// `backend` in groups at most `flushInterval` apart (`closeStore` ends that); with `durability`
    /// `sync`, acknowledgements wait for the commit of what their packet changed.
    /// `maxBytes` (0: none) bounds what the store takes: at the bound, new messages for stored
    /// sessions are dropped (`store_full`).
    public func restore(from backend: any PersistentStore, flushInterval: TimeAmount,
                        durability: StoreDurability = .batch, maxBytes: Int64 = 0) async throws -> RestoreSummary {
        let contents = try backend.load()
        let writer = StoreWriter(backend: backend, contents: contents, flushInterval: flushInterval, durability: durability,
                                 maxBytes: maxBytes, logger: logger)
        storeWriter.withLockedValue { $0 = writer }
        for context in contexts { try await context.loop.submit { context.store = writer }.get() }
        var summary = RestoreSummary()
        let now = NIODeadline.now()
        let wallNow = NIODeadline.wallClockMillisecondsNow
        retained.persist(to: writer)
        summary.retained = retained.restore(contents.retained, now: now, wallNowMilliseconds: wallNow) { record, reason in
            summary.unreadable.append("the retained message of \(record.topic) (\(reason); kept in the store)")
        }
        var restorer = SessionRestorer(contents: contents, writer: writer, now: now, wallNow: wallNow)
        let plans = restorer.plans()
        summary.sessions = plans.count
        summary.sessionMessages = plans.reduce(0) { $0 + $1.state.inflight.count + $1.state.queue.count }
        summary.expiredSessions = restorer.expiredSessions
        summary.expiredMessages = restorer.expiredMessages
        summary.unreadable += restorer.unreadable
        // Sessions spread over the loops as connections do; each loop installs its share at once.
        var byLoop = [[SessionRestorer.Plan]](repeating: [], count: contexts.count)
        for (index, plan) in plans.enumerated() { byLoop[index % contexts.count].append(plan) }
        for (context, share) in zip(contexts, byLoop) where !share.isEmpty {
            let sessions = share.map { plan -> Session in
                let session = Session(clientId: plan.clientId, context: context, broker: self)
                session.expiryInterval = plan.expiryInterval
                session.username = plan.username
                _ = registry.claim(session)
                return session
            }
            // Made here, used only on their loop from now on.
            let handed = HandedToLoop(value: (share, sessions))
            try await context.loop.submit {
                let (share, sessions) = handed.value
                for (plan, session) in zip(share, sessions) {
                    session.disconnectedAtMilliseconds = plan.disconnectedAtMilliseconds
                    session.install(plan.state, fromAnotherNode: true, restored: true)
                    session.expire(in: plan.expiresIn)
                    if let will = plan.will { session.holdWill(will.message, for: will.delay) }
                    if plan.willIsDue { session.storeRecord(connected: false) }  // it goes out below
                }
            }.get()
        }
        // Wills whose time came while the broker was down: after every session is back, so that
        // restored subscribers receive them.
        let context = contexts[0]
        for will in restorer.dueWills {
            try await context.loop.submit { [self] in publish(will, from: context, source: .will) }.get()
        }
        return summary
    }

    /// Commits what is waiting for the store and stops writing to it. Call once, after the
    /// event loops have stopped changing anything.
    public func closeStore() {
        let writer = storeWriter.withLockedValue { writer in
            defer { writer = nil }
            return writer
        }
        writer?.close()
    }
}

/// Turns a store's contents into the sessions to install, discarding what expired while the broker
/// was down (and removing it from the store).
struct SessionRestorer {
    struct Plan {
        let clientId: String
        let expiryInterval: UInt32
        let disconnectedAtMilliseconds: Int64
        let username: String?
        let state: SessionState
        let expiresIn: TimeAmount
        /// A will still waiting for its delay.
        let will: (message: Message, delay: TimeAmount)?
        /// The session's will is among `dueWills`: its row is written again without it.
        let willIsDue: Bool
    }

    let contents: StoreContents
    let writer: StoreWriter
    let now: NIODeadline
    let wallNow: Int64
    private(set) var expiredSessions = 0
    private(set) var expiredMessages = 0
    private(set) var unreadable: [String] = []
    /// Wills whose delay passed, or whose session ended, while the broker was down.
    private(set) var dueWills: [Message] = []
    private var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
    /// Each stored message read once, shared by every session holding it (nil: expired or unreadable).
    private var messages: [Int64: Message?] = [:]

    init(contents: StoreContents, writer: StoreWriter, now: NIODeadline, wallNow: Int64) {
        self.contents = contents
        self.writer = writer
        self.now = now
        self.wallNow = wallNow
    }

    mutating func plans() -> [Plan] {
        var entries: [String: [SessionMessageRecord]] = [:]
        for record in contents.sessionMessages { entries[record.clientId, default: []].append(record) }
        var releases: [String: Set<UInt16>] = [:]
        for release in contents.releases { releases[release.clientId, default: []].insert(release.packetId) }
        var plans: [Plan] = []
        plans.reserveCapacity(contents.sessions.count)
        for record in contents.sessions {
            let held = entries.removeValue(forKey: record.clientId) ?? []
            if let plan = plan(for: record, entries: held, releases: releases[record.clientId] ?? []) { plans.append(plan) }
        }
        // Messages of no stored session (an older store, or a crash mid-change) leave the store.
        for orphans in entries.values {
            for entry in orphans { writer.remove(key: entry.key, messageId: entry.messageId) }
        }
        return plans
    }

    private mutating func plan(for record: SessionRecord, entries: [SessionMessageRecord], releases: Set<UInt16>) -> Plan? {
        let decoded: SessionRecordBytes.Decoded
        do {
            decoded = try SessionRecordBytes.decode(record.state)
        } catch {
            unreadable.append("the session of \(record.clientId) (\(error); discarded)")
            discard(record.clientId, entries: entries)
            return nil
        }
        let offlineSince = record.disconnectedAtMilliseconds ?? wallNow
        let remaining = offlineSince + Int64(record.expiryInterval) * 1000 - wallNow
        var will: (message: Message, delay: TimeAmount)?
        var willIsDue = false
        if let stored = decoded.will {
            willIsDue = true
            do {
                if let message = try Message.restored(stored.message, now: now, wallNowMilliseconds: wallNow) {
                    let delay = stored.atMilliseconds - wallNow
                    if delay <= 0 || remaining <= 0 {
                        dueWills.append(message)
                    } else {
                        will = (message, .milliseconds(delay))
                        willIsDue = false
                    }
                }
            } catch {
                unreadable.append("the will of \(record.clientId) (\(error); dropped)")
            }
        }
        guard remaining > 0 else {
            expiredSessions += 1
            discard(record.clientId, entries: entries)
            return nil
        }
        var state = SessionState(subscriptions: decoded.subscriptions, inflight: [:], queue: CircularBuffer(initialCapacity: 1),
                                 queuedBytes: 0, awaitingRelease: releases, nextPacketId: decoded.packetIdsFrom, sequence: 0)
        for entry in entries {
            guard let message = message(entry.messageId), !message.isExpired(at: now) else {
                expiredMessages += 1
                writer.remove(key: entry.key, messageId: entry.messageId)
                continue
            }
            let options: DeliveryOptions
            do {
                options = try SessionRecordBytes.decodeDelivery(entry.delivery)
            } catch {
                unreadable.append("a message of \(record.clientId)'s session (\(error); dropped)")
                writer.remove(key: entry.key, messageId: entry.messageId)
                continue
            }
            let pending = options.pending(with: message, storeKey: entry.key)
            state.sequence = max(state.sequence, UInt64(entry.key))
            if let packetId = entry.packetId {
                state.inflight[packetId] = InflightMessage(pending: pending, phase: entry.awaitingComplete ? .awaitingComplete : .awaitingAck,
                                                           sequence: UInt64(entry.key))
            } else {
                state.queue.append(pending)
                state.queuedBytes += pending.payloadBytes
            }
        }
        // A will due after the session expires goes out at the expiry (the session's end).
        return Plan(clientId: record.clientId, expiryInterval: record.expiryInterval, disconnectedAtMilliseconds: offlineSince,
                    username: decoded.username, state: state, expiresIn: .milliseconds(remaining), will: will,
                    willIsDue: willIsDue)
    }

    /// A session that does not come back leaves the store with its messages.
    private mutating func discard(_ clientId: String, entries: [SessionMessageRecord]) {
        for entry in entries { writer.remove(key: entry.key, messageId: entry.messageId) }
        writer.sessionEnded(clientId)
    }

    /// The stored message `id`, read once; nil when it is missing, expired or unreadable.
    private mutating func message(_ id: Int64) -> Message? {
        if let known = messages[id] { return known }
        var message: Message?
        if let stored = contents.messages[id] {
            do {
                message = try Message.restored(stored, now: now, wallNowMilliseconds: wallNow)
            } catch {
                unreadable.append("stored message \(id) (\(error); dropped)")
            }
        }
        message?.storeId.store(id, ordering: .relaxed)
        messages[id] = message
        return message
    }
}

/// Values made on one thread and, from the moment they are handed over, used only on one event loop.
private struct HandedToLoop<Value>: @unchecked Sendable {  // handed over once, then used on one loop only
    let value: Value
}
