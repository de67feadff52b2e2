/// MQTT 5.0 reason codes (section 2.4). Also used internally for 3.1.1, where
/// `ConnectReturnCode` maps them onto the older CONNACK return codes.
public enum ReasonCode: UInt8, Sendable, Hashable, CustomStringConvertible {
    case success = 0x00                    // also "normal disconnection", "granted QoS 0"
    case grantedQoS1 = 0x01
    case grantedQoS2 = 0x02
    case disconnectWithWillMessage = 0x04
    case noMatchingSubscribers = 0x10
    case noSubscriptionExisted = 0x11
    case continueAuthentication = 0x18
    case reAuthenticate = 0x19
    case unspecifiedError = 0x80
    case malformedPacket = 0x81
    case protocolError = 0x82
    case implementationSpecificError = 0x83
    case unsupportedProtocolVersion = 0x84
    case clientIdentifierNotValid = 0x85
    case badUserNameOrPassword = 0x86
    case notAuthorized = 0x87
    case serverUnavailable = 0x88
    case serverBusy = 0x89
    case banned = 0x8A
    case serverShuttingDown = 0x8B
    case badAuthenticationMethod = 0x8C
    case keepAliveTimeout = 0x8D
    case sessionTakenOver = 0x8E
    case topicFilterInvalid = 0x8F
    case topicNameInvalid = 0x90
    case packetIdentifierInUse = 0x91
    case packetIdentifierNotFound = 0x92
    case receiveMaximumExceeded = 0x93
    case topicAliasInvalid = 0x94
    case packetTooLarge = 0x95
    case messageRateTooHigh = 0x96
    case quotaExceeded = 0x97
    case administrativeAction = 0x98
    case payloadFormatInvalid = 0x99
    case retainNotSupported = 0x9A
    case qosNotSupported = 0x9B
    case useAnotherServer = 0x9C
    case serverMoved = 0x9D
    case sharedSubscriptionsNotSupported = 0x9E
    case connectionRateExceeded = 0x9F
    case maximumConnectTime = 0xA0
    case subscriptionIdentifiersNotSupported = 0xA1
    case wildcardSubscriptionsNotSupported = 0xA2

    /// Whether the code reports a failure (0x80 and above).
    @inlinable public var isError: Bool { rawValue >= 0x80 }

    public var description: String {
        "0x" + String(rawValue, radix: 16, uppercase: true).leftPadded(to: 2) + " (\(self.name))"
    }

    /// A short name, as in the specification's table.
    public var name: String {
        switch self {
        case .success: return "success"
        case .grantedQoS1: return "granted QoS 1"
        case .grantedQoS2: return "granted QoS 2"
        case .disconnectWithWillMessage: return "disconnect with will message"
        case .noMatchingSubscribers: return "no matching subscribers"
        case .noSubscriptionExisted: return "no subscription existed"
        case .continueAuthentication: return "continue authentication"
        case .reAuthenticate: return "re-authenticate"
        case .unspecifiedError: return "unspecified error"
        case .malformedPacket: return "malformed packet"
        case .protocolError: return "protocol error"
        case .implementationSpecificError: return "implementation specific error"
        case .unsupportedProtocolVersion: return "unsupported protocol version"
        case .clientIdentifierNotValid: return "client identifier not valid"
        case .badUserNameOrPassword: return "bad user name or password"
        case .notAuthorized: return "not authorized"
        case .serverUnavailable: return "server unavailable"
        case .serverBusy: return "server busy"
        case .banned: return "banned"
        case .serverShuttingDown: return "server shutting down"
        case .badAuthenticationMethod: return "bad authentication method"
        case .keepAliveTimeout: return "keep alive timeout"
        case .sessionTakenOver: return "session taken over"
        case .topicFilterInvalid: return "topic filter invalid"
        case .topicNameInvalid: return "topic name invalid"
        case .packetIdentifierInUse: return "packet identifier in use"
        case .packetIdentifierNotFound: return "packet identifier not found"
        case .receiveMaximumExceeded: return "receive maximum exceeded"
        case .topicAliasInvalid: return "topic alias invalid"
        case .packetTooLarge: return "packet too large"
        case .messageRateTooHigh: return "message rate too high"
        case .quotaExceeded: return "quota exceeded"
        case .administrativeAction: return "administrative action"
        case .payloadFormatInvalid: return "payload format invalid"
        case .retainNotSupported: return "retain not supported"
        case .qosNotSupported: return "QoS not supported"
        case .useAnotherServer: return "use another server"
        case .serverMoved: return "server moved"
        case .sharedSubscriptionsNotSupported: return "shared subscriptions not supported"
        case .connectionRateExceeded: return "connection rate exceeded"
        case .maximumConnectTime: return "maximum connect time"
        case .subscriptionIdentifiersNotSupported: return "subscription identifiers not supported"
        case .wildcardSubscriptionsNotSupported: return "wildcard subscriptions not supported"
        }
    }

    /// The MQTT 3.1/3.1.1 CONNACK return code for a CONNACK reason code.
    public var connectReturnCode: UInt8 {
        switch self {
        case .success: return 0
        case .unsupportedProtocolVersion: return 1
        case .clientIdentifierNotValid: return 2
        case .serverUnavailable, .serverBusy, .serverShuttingDown, .useAnotherServer, .serverMoved,
             .connectionRateExceeded, .quotaExceeded: return 3
        case .badUserNameOrPassword, .badAuthenticationMethod: return 4
        default: return 5 // not authorized
        }
    }

    /// The reason code for an MQTT 3.1/3.1.1 CONNACK return code.
    public static func fromConnectReturnCode(_ code: UInt8) -> ReasonCode? {
        switch code {
        case 0: return .success
        case 1: return .unsupportedProtocolVersion
        case 2: return .clientIdentifierNotValid
        case 3: return .serverUnavailable
        case 4: return .badUserNameOrPassword
        case 5: return .notAuthorized
        default: return nil
        }
    }

    /// The SUBACK reason code that grants `qos`.
    public static func granted(_ qos: QoS) -> ReasonCode {
        switch qos {
        case .atMostOnce: return .success
        case .atLeastOnce: return .grantedQoS1
        case .exactlyOnce: return .grantedQoS2
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
