import MQTTCore
import NIOConcurrencyHelpers
import NIOCore

/// Retained messages by topic. Written only by retained publishes, read on subscribe.
///
/// In a cluster (`replicate(as:)`), every change also gets a `RetainedStamp` and a delete leaves a
/// tombstone, so that the copies on every node converge by last-writer-wins whatever order the
/// changes arrive in (see docs/cluster.md).
final class RetainedStore: Sendable {
    private let state = NIOLockedValueBox(State())

    fileprivate struct State {
        var messages: [String: Message] = [:]
        /// The stamp of every topic's last change, deletes included (clustered nodes only).
        var stamps: [String: RetainedStamp] = [:]
        /// This node's name once clustered; nil: no stamps are kept.
        var node: String?
        /// Where every change is also written (`persist(to:)`); nil: memory only.
        var store: StoreWriter?
    }

    /// How long a delete's tombstone is kept (it stops an older copy from coming back).
    static let tombstoneLifetimeMilliseconds: UInt64 = 24 * 3600 * 1000

    /// Writes every later change to `store` too, in the order the changes happen (a change is
    /// handed over while its topic's new state is set, under the same lock). `$SYS/` topics
    /// describe the running node and are not kept.
    func persist(to store: StoreWriter) {
        state.withLockedValue { $0.store = store }
    }

    /// Puts back what a store kept (start-up, before any client; after `persist(to:)`, so that what
    /// is dropped here leaves the store too): messages that expired while the broker was down and
    /// tombstones past their lifetime are removed; a record that cannot be read is reported and
    /// kept. Returns how many messages are back.
    func restore(_ records: [RetainedRecord], now: NIODeadline, wallNowMilliseconds: Int64,
                 unreadable: (RetainedRecord, String) -> Void) -> Int {
        state.withLockedValue { state in
            var restored = 0
            for record in records {
                // An unreadable record keeps no stamp either, so that no pruning removes its row.
                let message: Message?
                do throws(TransferError) {
                    message = try record.message.flatMap { stored throws(TransferError) in
                        try Message.restored(stored, now: now, wallNowMilliseconds: wallNowMilliseconds)
                    }
                } catch {
                    unreadable(record, error.description)
                    continue
                }
                if let stamp = record.stamp { state.stamps[record.topic] = stamp }
                if let message {
                    state.messages[record.topic] = message.retainedCopy()
                    restored += 1
                } else if record.message != nil {
                    state.persist(record.topic, nil, nil)  // expired while the broker was down
                }
            }
            // Tombstones that outlived their lifetime while the broker was down go now.
            state.pruneTombstones()
            return restored
        }
    }

    /// Starts stamping changes as `node`'s. Messages stored before get a stamp now.
    func replicate(as node: String) {
        state.withLockedValue { state in
            state.node = node
            let now = RetainedStamp.nowMilliseconds()
            for topic in state.messages.keys where state.stamps[topic] == nil && !topic.utf8.starts(with: "$SYS/".utf8) {
                state.stamps[topic] = RetainedStamp(time: now, node: node)
            }
        }
    }

    /// Stores `message` as the retained message of its topic, or clears the topic when the
    /// payload is empty. The stored copy owns its payload bytes. Returns the change's stamp when
    /// the node is clustered (the change must then be replicated), else nil.
    @discardableResult
    func update(with message: Message) -> RetainedStamp? {
        let copy = message.payload.readableBytes == 0 ? nil : message.retainedCopy()
        return state.withLockedValue { state in
            state.messages[message.topic] = copy
            let stamp = state.stamp(message.topic)
            state.persist(message.topic, copy, stamp)
            return stamp
        }
    }

    /// Applies a change another node made, if it is newer than what this node holds for the topic
    /// (last writer wins by stamp). Returns whether it was applied.
    func apply(topic: String, message: Message?, stamp: RetainedStamp) -> Bool {
        state.withLockedValue { state in
            if let current = state.stamps[topic], !(current < stamp) { return false }
            state.stamps[topic] = stamp
            state.messages[topic] = message
            state.persist(topic, message, stamp)
            return true
        }
    }

    /// Every stamped topic with its message (nil: deleted), for a peer's snapshot. Drops
    /// tombstones past their lifetime and treats expired messages as deleted.
    func replicatedSet(now: NIODeadline) -> [(topic: String, message: Message?, stamp: RetainedStamp)] {
        state.withLockedValue { state in
            state.pruneTombstones()
            var result: [(topic: String, message: Message?, stamp: RetainedStamp)] = []
            for (topic, stamp) in state.stamps {
                let message = state.messages[topic]
                result.append((topic, message?.isExpired(at: now) == true ? nil : message, stamp))
            }
            return result
        }
    }

    /// Forgets deletes older than `tombstoneLifetimeMilliseconds` (the cluster calls it now and then).
    func pruneTombstones() {
        state.withLockedValue { $0.pruneTombstones() }
    }

    /// The unexpired retained messages whose topics match `filter` (expired ones are removed).
    func matching(_ filter: String, now: NIODeadline) -> [Message] {
        state.withLockedValue { state in
            var result: [Message] = []
            if !filter.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
                if let message = state.messages[filter] { result.append(message) }
            } else {
                for (topic, message) in state.messages where MQTTTopic.matches(filter: filter, topic: topic) {
                    result.append(message)
                }
            }
            let expired = result.filter { $0.isExpired(at: now) }
            for message in expired {
                state.messages[message.topic] = nil
                state.persist(message.topic, nil, nil)
            }
            return expired.isEmpty ? result : result.filter { !$0.isExpired(at: now) }
        }
    }

    /// Clears `topic`; returns whether it held a message, and the change's stamp when clustered.
    func remove(topic: String) -> (removed: Bool, stamp: RetainedStamp?) {
        state.withLockedValue { state in
            guard state.messages.removeValue(forKey: topic) != nil else { return (false, nil) }
            let stamp = state.stamp(topic)
            state.persist(topic, nil, stamp)
            return (true, stamp)
        }
    }

    var count: Int { state.withLockedValue { $0.messages.count } }

    var all: [Message] { state.withLockedValue { Array($0.messages.values) } }
}

extension RetainedStore.State {
    /// Hands a change of `topic` to the store, if there is one. An expired message's removal has
    /// no stamp: its stored row just goes.
    fileprivate func persist(_ topic: String, _ message: Message?, _ stamp: RetainedStamp?) {
        guard let store, !topic.utf8.starts(with: "$SYS/".utf8) else { return }
        let now = NIODeadline.now()
        let stored = message.map { $0.stored(now: now, wallNowMilliseconds: NIODeadline.wallClockMillisecondsNow) }
        store.retainedChanged(RetainedRecord(topic: topic, message: stored, stamp: stamp))
    }

    /// Forgets tombstones past their lifetime, in the store too.
    fileprivate mutating func pruneTombstones() {
        let oldest = RetainedStamp.nowMilliseconds() &- RetainedStore.tombstoneLifetimeMilliseconds
        for (topic, stamp) in stamps where stamp.time < oldest && messages[topic] == nil {
            stamps[topic] = nil
            persist(topic, nil, nil)
        }
    }

    /// Stamps a local change of `topic`: later than anything this node has seen for it. `$SYS/`
    /// topics describe this node only and are never replicated.
    fileprivate mutating func stamp(_ topic: String) -> RetainedStamp? {
        guard let node, !topic.utf8.starts(with: "$SYS/".utf8) else { return nil }
        var time = RetainedStamp.nowMilliseconds()
        if let previous = stamps[topic], previous.time >= time { time = previous.time + 1 }
        let stamp = RetainedStamp(time: time, node: node)
        stamps[topic] = stamp
        return stamp
    }
}

/// When and where a retained topic last changed: wall-clock milliseconds, ties broken by node
/// name. Orders the changes of one topic the same way on every node (last writer wins).
public struct RetainedStamp: Sendable, Equatable, Comparable {
    public var time: UInt64
    public var node: String

    public init(time: UInt64, node: String) {
        self.time = time
        self.node = node
    }

    public static func < (lhs: RetainedStamp, rhs: RetainedStamp) -> Bool {
        (lhs.time, lhs.node) < (rhs.time, rhs.node)
    }

    static func nowMilliseconds() -> UInt64 { UInt64(max(0, NIODeadline.wallClockMillisecondsNow)) }
}
