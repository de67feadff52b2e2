import NIOCore

/// CONNECT (section 3.1): the first packet a client sends.
public struct Connect: Sendable, Hashable {
    public var protocolVersion: ProtocolVersion
    /// Clean start (5.0) or clean session (3.1.1).
    public var cleanStart: Bool
    /// Keep alive in seconds; 0 turns it off.
    public var keepAlive: UInt16
    public var clientIdentifier: String
    public var will: Will?
    public var username: String?
    public var password: ByteBuffer?
    public var properties: Properties

    public init(protocolVersion: ProtocolVersion = .v5, cleanStart: Bool = true, keepAlive: UInt16 = 60,
                clientIdentifier: String, will: Will? = nil, username: String? = nil,
                password: ByteBuffer? = nil, properties: Properties = []) {
        self.protocolVersion = protocolVersion
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.clientIdentifier = clientIdentifier
        self.will = will
        self.username = username
        self.password = password
        self.properties = properties
    }
}

/// The will message carried in CONNECT.
public struct Will: Sendable, Hashable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    /// Will properties (5.0): will delay interval, message expiry, content type …
    public var properties: Properties

    public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false,
                properties: Properties = []) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// CONNACK (section 3.2).
public struct ConnAck: Sendable, Hashable {
    public var sessionPresent: Bool
    /// The 5.0 reason code; for 3.1/3.1.1 it is encoded as `reasonCode.connectReturnCode`.
    public var reasonCode: ReasonCode
    public var properties: Properties

    public init(sessionPresent: Bool = false, reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
