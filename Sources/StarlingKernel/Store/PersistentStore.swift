/// Where the broker keeps what must outlive its process: a backend (SQLite, in StarlingStore) that
/// hands back everything it holds once, at start-up, and then applies batches of changes, each
/// all or nothing. The kernel's `StoreWriter` calls it from a thread of its own, one call at a
/// time, so an implementation needs no locking of its own and no event loop waits for its disk.
public protocol PersistentStore: AnyObject, Sendable {
    /// Everything the store holds.
    func load() throws -> StoreContents
    /// Applies `batch` in one transaction, in the order `StoreBatch` documents.
    func write(_ batch: StoreBatch) throws
    /// The bytes the store takes for what it holds now, measured against `storage.max_bytes`.
    func bytesUsed() -> Int64
    /// Gives back to the file system what it can without losing anything (the writer calls it
    /// when the store looks full, then measures again).
    func compact()
}

/// What a store holds: retained messages, sessions that outlive their connections, the messages
/// those sessions hold (each stored once) and their incoming QoS 2 packet ids awaiting PUBREL.
public struct StoreContents: Sendable {
    public var retained: [RetainedRecord]
    public var sessions: [SessionRecord]
    /// In key order (the order the messages entered their sessions).
    public var sessionMessages: [SessionMessageRecord]
    public var messages: [Int64: StoredMessage]
    public var releases: [ReleaseRecord]

    public init(retained: [RetainedRecord] = [], sessions: [SessionRecord] = [], sessionMessages: [SessionMessageRecord] = [],
                messages: [Int64: StoredMessage] = [:], releases: [ReleaseRecord] = []) {
        self.retained = retained
        self.sessions = sessions
        self.sessionMessages = sessionMessages
        self.messages = messages
        self.releases = releases
    }
}

/// Changes for one transaction. A backend applies them in this order: retained changes; ended
/// sessions (their rows and their awaiting-release ids go); session rows written; messages
/// inserted; session messages written, then removed; awaiting-release ids removed, then added;
/// messages removed. The writer coalesces changes so that this order gives the same result as the
/// order they happened in.
public struct StoreBatch: Sendable {
    public var retained: [RetainedRecord] = []
    public var endedSessions: [String] = []
    public var sessions: [SessionRecord] = []
    public var messages: [(id: Int64, message: StoredMessage)] = []
    public var sessionMessages: [SessionMessageRecord] = []
    public var removedSessionMessages: [Int64] = []
    public var removedReleases: [ReleaseRecord] = []
    public var addedReleases: [ReleaseRecord] = []
    public var removedMessages: [Int64] = []

    public init() {}

    /// The number of changes, for logs.
    public var count: Int {
        retained.count + endedSessions.count + sessions.count + messages.count + sessionMessages.count
            + removedSessionMessages.count + removedReleases.count + addedReleases.count + removedMessages.count
    }
    public var isEmpty: Bool { count == 0 }
}

/// A session that outlives its connection (expiry interval > 0; 3.1.1: clean session 0).
public struct SessionRecord: Sendable, Equatable {
    public var clientId: String
    public var expiryInterval: UInt32
    /// When its connection closed, in wall-clock milliseconds; nil while a client is connected
    /// (a broker that stops meanwhile counts the expiry from its restart).
    public var disconnectedAtMilliseconds: Int64?
    /// Subscriptions, user name and delayed will, in the kernel's encoding (`SessionRecordBytes`).
    public var state: [UInt8]

    public init(clientId: String, expiryInterval: UInt32, disconnectedAtMilliseconds: Int64?, state: [UInt8]) {
        self.clientId = clientId
        self.expiryInterval = expiryInterval
        self.disconnectedAtMilliseconds = disconnectedAtMilliseconds
        self.state = state
    }
}

/// A message a stored session holds: queued (no packet id) or in flight to its client.
public struct SessionMessageRecord: Sendable, Equatable {
    /// Unique in the store, increasing in the order messages enter sessions.
    public var key: Int64
    public var clientId: String
    /// The stored message (`StoreContents.messages`).
    public var messageId: Int64
    public var packetId: UInt16?
    /// QoS 2: PUBREC received, PUBREL sent.
    public var awaitingComplete: Bool
    /// QoS, RETAIN flag, subscription identifiers and shared group, in the kernel's encoding.
    public var delivery: [UInt8]

    public init(key: Int64, clientId: String, messageId: Int64, packetId: UInt16?, awaitingComplete: Bool, delivery: [UInt8]) {
        self.key = key
        self.clientId = clientId
        self.messageId = messageId
        self.packetId = packetId
        self.awaitingComplete = awaitingComplete
        self.delivery = delivery
    }
}

/// An incoming QoS 2 packet id a stored session received (PUBREC sent) and awaits PUBREL for.
public struct ReleaseRecord: Sendable, Hashable {
    public var clientId: String
    public var packetId: UInt16

    public init(clientId: String, packetId: UInt16) {
        self.clientId = clientId
        self.packetId = packetId
    }
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
