/// Where the broker keeps what must outlive its process (issue 15 grows this: retained messages
/// first). The kernel calls it on its event loops, in the order the changes happen; an
/// implementation queues each change and commits it from a thread of its own (group commit), so no
/// call waits for a disk.
public protocol PersistentStore: Sendable {
    /// The retained state of a topic changed: a message, or nil for a clear. `stamp`: the change's
    /// cluster stamp (nil on a node without a cluster); a clear with a stamp is kept as a tombstone
    /// so that an older copy from another node cannot come back after a restart.
    func retainedChanged(_ record: RetainedRecord)
}

/// One topic's retained state as the store keeps it.
public struct RetainedRecord: Sendable, Equatable {
    public var topic: String
    /// The message; nil for a tombstone.
    public var message: StoredMessage?
    public var stamp: RetainedStamp?

    public init(topic: String, message: StoredMessage?, stamp: RetainedStamp?) {
        self.topic = topic
        self.message = message
        self.stamp = stamp
    }
}

/// A message as bytes: its publisher and its MQTT 5.0 PUBLISH (``MessageBytes``), and when it
/// expires as wall-clock milliseconds, so that the time the broker was down counts.
public struct StoredMessage: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Milliseconds since 1970 at which the message expires; nil: it does not.
    public var expiresAtMilliseconds: Int64?

    public init(bytes: [UInt8], expiresAtMilliseconds: Int64?) {
        self.bytes = bytes
        self.expiresAtMilliseconds = expiresAtMilliseconds
    }
}
