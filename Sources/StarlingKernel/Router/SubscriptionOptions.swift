import MQTTCore

/// The options a session subscribed to one filter with.
public struct SubscriptionOptions: Sendable, Hashable {
    public var qos: QoS
    public var noLocal: Bool
    public var retainAsPublished: Bool
    public var retainHandling: RetainHandling
    /// The 5.0 subscription identifier, echoed in matching PUBLISHes.
    public var identifier: UInt32?

    public init(qos: QoS, noLocal: Bool = false, retainAsPublished: Bool = false,
                retainHandling: RetainHandling = .sendOnSubscribe, identifier: UInt32? = nil) {
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
        self.identifier = identifier
    }
}

/// One message bound for one session: the merged options of every subscription of that
/// session that matched the topic.
struct Delivery {
    let session: Session
    var qos: QoS
    var retainAsPublished: Bool
    /// Subscription identifiers of the matching subscriptions (usually none or one).
    var identifiers: [UInt32]
    /// Set when the message reached the session through a shared subscription group, so that
    /// it can be handed to another member if this one leaves with it unacknowledged.
    var sharedGroup: SharedGroupKey?
    /// The session's copy is already in the durable store under this key (`storage.durability =
    /// "sync"`: stored by the publisher's loop with the rest of the publish); 0: not stored yet.
    var storeKey: Int64 = 0

    init(session: Session, options: SubscriptionOptions, sharedGroup: SharedGroupKey? = nil) {
        self.session = session
        self.qos = options.qos
        self.retainAsPublished = options.retainAsPublished
        self.identifiers = options.identifier.map { [$0] } ?? []
        self.sharedGroup = sharedGroup
    }
}

/// Names one shared subscription group: `$share/{group}/{filter}`.
public struct SharedGroupKey: Hashable, Sendable {
    public let group: String
    public let filter: String

    public init(group: String, filter: String) {
        self.group = group
        self.filter = filter
    }

    /// The group as a subscription filter (`$share/{group}/{filter}`, or `$queue/{filter}`): how
    /// the cluster's route table and the API name it.
    public var routeFilter: String { group == "$queue" ? "$queue/\(filter)" : "$share/\(group)/\(filter)" }
}
