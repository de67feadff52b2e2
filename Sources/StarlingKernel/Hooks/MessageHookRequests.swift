import MQTTCore
import NIOCore

/// What a `message_publish`, `subscribe` or `unsubscribe` hook answers: `ok` passes the (possibly
/// rewritten) message or filter on to the next hook; `stop` drops the message / refuses the filter
/// and ends the chain.
public enum HookResult: Sendable, Equatable {
    case ok
    case stop
}

/// Where a message entering the router came from.
public enum MessageSource: Int, Sendable, Equatable {
    /// A PUBLISH from a connected client (after `authorize_publish`).
    case client = 1
    /// A client's will.
    case will = 2
    /// A plugin's `host->publish`.
    case plugin = 3
    /// The HTTP API (`POST /api/v5/publish`) or another management call.
    case api = 4
}

/// Why a message (or one subscriber's copy of it) was dropped. Also the labels of the
/// `messages.dropped` counters.
public enum MessageDropReason: Int, CaseIterable, Sendable {
    case queueFull, expired, qos0Offline, tooLarge, noSubscribers
    /// A `message_publish` hook stopped it.
    case deniedByHook
    /// A `message_publish` hook rewrote it into something invalid (topic with wildcards, empty, not UTF-8 ...).
    case invalidRewrite
    /// The subscriber's session is stored and the durable store is full.
    case storeFull

    public var name: String {
        switch self {
        case .queueFull: return "queue_full"
        case .expired: return "expired"
        case .qos0Offline: return "qos0_offline"
        case .tooLarge: return "too_large"
        case .noSubscribers: return "no_subscribers"
        case .deniedByHook: return "denied_by_hook"
        case .invalidRewrite: return "invalid_rewrite"
        case .storeFull: return "store_full"
        }
    }
}

/// A message about to be routed, as `message_publish` hooks see and may change it. Each hook sees
/// what the hooks before it left.
///
/// Noncopyable, and handed to hooks `inout` for the length of the chain: it refers to the
/// published message without holding it (the broker does), so a do-nothing hook costs no
/// reference counting. A hook that changes a field makes the request hold a new message.
public struct MessagePublishRequest: ~Copyable, Sendable {
    public let source: MessageSource
    /// The message as published; valid while the chain runs.
    private let published: Unmanaged<Message>
    /// The message as the hooks changed it, once one has (built per change, which is rare).
    private var rewritten: Message?

    /// Runs `body` with the message as the hooks so far left it, borrowed: its fields are read
    /// in place, without a copy.
    @inline(__always)
    public func withMessage<R>(_ body: (Message) -> R) -> R {
        if let rewritten { return body(rewritten) }
        return published._withUnsafeGuaranteedRef(body)
    }

    /// The message as the hooks so far left it.
    public var message: Message { rewritten ?? published.takeUnretainedValue() }
    /// The publisher's client id (clients and wills); nil for plugin and API messages.
    public var publisherId: String? { message.publisherId }
    /// The publisher's user name (clients and wills); nil otherwise.
    public var publisherUsername: String? { message.publisherUsername }
    /// The topic name; a rewrite must stay a valid topic name (no wildcards, not empty, not `$`
    /// except `$SYS/`, within the node's length and level limits), or the message is dropped.
    public var topic: String {
        get { message.topic }
        set { rewrite(topic: newValue) }
    }
    public var payload: ByteBuffer {
        get { message.payload }
        set { rewrite(payload: newValue) }
    }
    /// Capped by the node's maximum QoS after the chain.
    public var qos: QoS {
        get { message.qos }
        set { rewrite(qos: newValue) }
    }
    public var retain: Bool {
        get { message.retain }
        set { rewrite(retain: newValue) }
    }
    /// MQTT 5 properties forwarded to subscribers (content type, user properties ...). Topic
    /// alias, subscription identifiers and expiry are not among them and are ignored if added.
    public var properties: Properties {
        get { message.properties }
        set { rewrite(properties: newValue) }
    }
    /// Set by a hook (the C bridge) that tried to set something it cannot express (a topic that
    /// is not UTF-8): the message is dropped as an invalid rewrite, with this as the reason.
    public var invalidRewrite: String?

    /// Whether a hook changed a field (or tried to, invalidly).
    public var changed: Bool { rewritten != nil || invalidRewrite != nil }
    /// Whether the topic was set since the broker last validated it.
    var topicChanged = false

    /// A request for `message`, which the caller keeps alive while the request exists.
    init(source: MessageSource, message: Message) {
        self.source = source
        published = .passUnretained(message)
    }

    /// Sets the given fields at once (one new message for all of them).
    public mutating func rewrite(topic: String? = nil, payload: ByteBuffer? = nil, qos: QoS? = nil, retain: Bool? = nil,
                                 properties: Properties? = nil) {
        let current = message
        rewritten = Message(topic: topic ?? current.topic, payload: payload ?? current.payload, qos: qos ?? current.qos,
                            retain: retain ?? current.retain, properties: properties ?? current.properties,
                            publisherId: current.publisherId, publisherUsername: current.publisherUsername,
                            expiresAt: current.expiresAt, origin: current.origin)
        if topic != nil { topicChanged = true }
    }
}

/// One PUBLISH written to a subscriber (`message_delivered`) or its acknowledgement received
/// (`message_acked`: PUBACK for QoS 1, PUBCOMP for QoS 2).
public struct MessageDeliveryNotice: Sendable {
    public let subscriberId: String
    public let subscriberUsername: String?
    public let message: Message
    /// The QoS of this delivery (the message's capped by the subscription).
    public let qos: QoS
    /// The RETAIN flag as sent.
    public let retain: Bool
    /// The packet identifier; nil for QoS 0.
    public let packetId: UInt16?
    /// A retransmission (DUP) of an earlier delivery.
    public let dup: Bool
}

/// A message, or one subscriber's copy of it, that the broker dropped.
public struct MessageDropNotice: Sendable {
    public let reason: MessageDropReason
    public let message: Message
    /// The subscriber whose copy was dropped; nil when the whole message was (no subscribers,
    /// stopped or invalidly rewritten by a `message_publish` hook).
    public let subscriberId: String?
    /// The QoS of the dropped copy (the message's own when there is no subscriber).
    public let qos: QoS
}

/// One filter of a SUBSCRIBE or UNSUBSCRIBE before the broker acts on it. A hook may rewrite
/// `filter` (validated by the broker after the chain, as the client's own) or stop it.
public struct SubscriptionRequest: Sendable {
    public let clientId: String
    public let username: String?
    public var filter: String
    /// The QoS requested (SUBSCRIBE; `.atMostOnce` for UNSUBSCRIBE). Read only.
    public let qos: QoS
    /// Set by the C bridge when a rewritten filter is not UTF-8: refused as an invalid filter.
    public var invalidRewrite: String?
}

/// Why a session ended (`session_ended`).
public enum SessionEndReason: Int, Sendable, Equatable {
    /// Its connection ended and it had no expiry interval (clean session / expiry 0).
    case closed = 1
    /// Its expiry interval passed while no client was connected.
    case expired = 2
    /// A new connection with clean start replaced it.
    case discarded = 3
    /// An administrator or plugin kicked its client (API, `host->kick`).
    case kicked = 4
}

/// A session's life event: created, resumed, taken over or ended.
public struct SessionNotice: Sendable {
    public let clientId: String
    /// The user name of the session's client (its latest connection), or nil.
    public let username: String?
    /// The session expiry interval in seconds at the time of the event.
    public let expiryInterval: UInt32
    /// Why it ended (`session_ended` only).
    public let endReason: SessionEndReason?
}
