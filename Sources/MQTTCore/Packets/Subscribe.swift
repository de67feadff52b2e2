/// How retained messages are sent when a subscription is made (5.0, section 3.8.3.1).
public enum RetainHandling: UInt8, Sendable, Hashable {
    /// Send retained messages at the time of the subscribe.
    case sendOnSubscribe = 0
    /// Send them only if the subscription did not exist before.
    case sendOnNewSubscribe = 1
    /// Do not send retained messages.
    case doNotSend = 2
}

/// One topic filter of a SUBSCRIBE with its options.
public struct TopicSubscription: Sendable, Hashable {
    public var filter: String
    public var qos: QoS
    public var noLocal: Bool
    public var retainAsPublished: Bool
    public var retainHandling: RetainHandling

    public init(filter: String, qos: QoS = .atMostOnce, noLocal: Bool = false, retainAsPublished: Bool = false,
                retainHandling: RetainHandling = .sendOnSubscribe) {
        self.filter = filter
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }
}

/// SUBSCRIBE (section 3.8).
public struct Subscribe: Sendable, Hashable {
    public var packetIdentifier: UInt16
    public var subscriptions: [TopicSubscription]
    /// Subscription identifier and user properties (5.0).
    public var properties: Properties

    public init(packetIdentifier: UInt16, subscriptions: [TopicSubscription], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

/// SUBACK (section 3.9).
public struct SubAck: Sendable, Hashable {
    public var packetIdentifier: UInt16
    /// One per requested filter. On 3.1.1, failures are encoded as 0x80.
    public var reasonCodes: [ReasonCode]
    public var properties: Properties

    public init(packetIdentifier: UInt16, reasonCodes: [ReasonCode], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

/// UNSUBSCRIBE (section 3.10).
public struct Unsubscribe: Sendable, Hashable {
    public var packetIdentifier: UInt16
    public var filters: [String]
    public var properties: Properties

    public init(packetIdentifier: UInt16, filters: [String], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.filters = filters
        self.properties = properties
    }
}

/// UNSUBACK (section 3.11). 3.1.1 carries no reason codes.
public struct UnsubAck: Sendable, Hashable {
    public var packetIdentifier: UInt16
    public var reasonCodes: [ReasonCode]
    public var properties: Properties

    public init(packetIdentifier: UInt16, reasonCodes: [ReasonCode] = [], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}
