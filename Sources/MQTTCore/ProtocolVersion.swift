/// The MQTT protocol level a client speaks, as carried in CONNECT.
public enum ProtocolVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// MQTT 3.1 (protocol name `MQIsdp`).
    case v3_1 = 3
    /// MQTT 3.1.1 (protocol name `MQTT`).
    case v3_1_1 = 4
    /// MQTT 5.0 (protocol name `MQTT`).
    case v5 = 5

    /// The protocol name that goes with this level in CONNECT.
    public var protocolName: String { self == .v3_1 ? "MQIsdp" : "MQTT" }

    /// Whether packets carry properties and reason codes (MQTT 5.0).
    @inlinable public var hasProperties: Bool { self == .v5 }

    public var description: String {
        switch self {
        case .v3_1: return "3.1"
        case .v3_1_1: return "3.1.1"
        case .v5: return "5.0"
        }
    }
}

/// Quality of service of a message or subscription.
public enum QoS: UInt8, Sendable, Hashable, Comparable, CustomStringConvertible {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: QoS, rhs: QoS) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// The control packet types of MQTT (the high nibble of the fixed header).
public enum PacketType: UInt8, Sendable, Hashable {
    case connect = 1, connack, publish, puback, pubrec, pubrel, pubcomp,
         subscribe, suback, unsubscribe, unsuback, pingreq, pingresp, disconnect, auth
}

extension PacketType: CustomStringConvertible {
    public var description: String {
        switch self {
        case .connect: return "CONNECT"
        case .connack: return "CONNACK"
        case .publish: return "PUBLISH"
        case .puback: return "PUBACK"
        case .pubrec: return "PUBREC"
        case .pubrel: return "PUBREL"
        case .pubcomp: return "PUBCOMP"
        case .subscribe: return "SUBSCRIBE"
        case .suback: return "SUBACK"
        case .unsubscribe: return "UNSUBSCRIBE"
        case .unsuback: return "UNSUBACK"
        case .pingreq: return "PINGREQ"
        case .pingresp: return "PINGRESP"
        case .disconnect: return "DISCONNECT"
        case .auth: return "AUTH"
        }
    }
}
