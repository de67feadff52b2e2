import NIOCore

/// PUBLISH (section 3.3).
public struct Publish: Sendable, Hashable {
    /// The topic name; may be empty in 5.0 when a topic alias stands for it.
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    public var dup: Bool
    /// Present exactly when `qos > 0`.
    public var packetIdentifier: UInt16?
    public var properties: Properties

    public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false,
                dup: Bool = false, packetIdentifier: UInt16? = nil, properties: Properties = []) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetIdentifier = packetIdentifier
        self.properties = properties
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape (sections 3.4–3.7).
public struct PublishAck: Sendable, Hashable {
    public var packetIdentifier: UInt16
    /// 5.0 only; `success` on 3.1.1 and when omitted on the wire.
    public var reasonCode: ReasonCode
    public var properties: Properties

    public init(packetIdentifier: UInt16, reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
