/// A fault in the bytes a peer sent: the packet is malformed or breaks a protocol rule.
///
/// Every decoding fault is fatal to the connection. A 5.0 server answers it with `reasonCode`
/// (in CONNACK if CONNECT has not been accepted yet, else in DISCONNECT) and closes; a 3.1.1 server just closes.
public struct MQTTProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        // Fixed header and framing.
        /// The remaining length runs past 4 bytes or is not minimally encoded.
        case malformedRemainingLength
        /// The whole packet (fixed header + remaining length) exceeds the accepted maximum.
        case packetTooLarge(size: Int, limit: Int)
        /// Packet type 0, or AUTH (15) outside 5.0.
        case unknownPacketType(UInt8)
        /// The low nibble of the fixed header is not the one the packet type requires.
        case invalidFixedHeaderFlags(PacketType, UInt8)
        /// The packet's fields run past its remaining length.
        case truncated(PacketType)
        /// Bytes are left over after the packet's last field.
        case trailingBytes(PacketType)

        // Data types.
        /// A string is not well-formed UTF-8 (this includes encoded surrogates and overlong forms).
        case invalidUTF8
        /// A string contains U+0000.
        case nullCharacter
        /// A variable byte integer inside the packet runs past 4 bytes or is not minimally encoded.
        case malformedVariableByteInteger

        // CONNECT and CONNACK.
        /// The protocol name is neither `MQTT` nor `MQIsdp`.
        case invalidProtocolName(String)
        /// The protocol level is not 3 (with `MQIsdp`), 4 or 5 (with `MQTT`).
        case unsupportedProtocolVersion(UInt8)
        /// Bit 0 of the CONNECT flags is set.
        case reservedConnectFlagSet
        /// Will QoS or will retain is set without the will flag.
        case invalidWillFlags
        /// A QoS of 3 (PUBLISH fixed header or will QoS).
        case invalidQoS(UInt8)
        /// 3.1/3.1.1: the password flag is set without the user name flag.
        case passwordWithoutUsername
        /// CONNACK acknowledge flags other than session present are set.
        case reservedConnAckFlagsSet(UInt8)

        // Sequence.
        /// Server side: the first packet is not CONNECT (or no protocol version is known yet).
        case firstPacketNotConnect(PacketType)
        /// Server side: CONNECT after CONNECT.
        case secondConnect

        // 5.0 properties and reason codes.
        /// A property identifier that MQTT 5.0 does not define.
        case unknownProperty(UInt8)
        /// A property that this packet type may not carry.
        case propertyNotAllowed(UInt8, PacketType)
        /// A property that will properties may not carry.
        case propertyNotAllowedInWill(UInt8)
        /// A property that may appear once appears again.
        case duplicateProperty(UInt8)
        /// A property value outside its allowed range (for example Receive Maximum 0).
        case invalidPropertyValue(UInt8)
        /// Authentication Data without Authentication Method.
        case authenticationDataWithoutMethod
        /// A reason code (or 3.1.1 return code) that this packet type may not carry.
        case invalidReasonCode(UInt8, PacketType)

        // Packet contents.
        /// Packet identifier 0 where a non-zero one is required.
        case zeroPacketIdentifier(PacketType)
        /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
        case noTopicFilters(PacketType)
        /// Reserved bits of a SUBSCRIBE option byte are set (bits 6–7 in 5.0, bits 2–7 before).
        case reservedSubscriptionOptionBitsSet(UInt8)
        /// A SUBSCRIBE option byte with maximum QoS 3 or retain handling 3.
        case invalidSubscriptionOptions(UInt8)
        /// A PUBLISH topic name contains a wildcard, or a will topic is empty or contains one.
        case invalidTopicName(String)
        /// A PUBLISH with an empty topic name and no topic alias (5.0), or an empty topic name (3.1.1).
        case missingTopicName
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// The 5.0 reason code a server answers this fault with.
    public var reasonCode: ReasonCode {
        switch kind {
        case .packetTooLarge: return .packetTooLarge
        case .unsupportedProtocolVersion, .invalidProtocolName: return .unsupportedProtocolVersion
        case .invalidTopicName: return .topicNameInvalid
        // A topic alias of 0 has its own code (section 3.3.2.3.4).
        case .invalidPropertyValue(0x23): return .topicAliasInvalid
        case .firstPacketNotConnect, .secondConnect, .duplicateProperty, .invalidPropertyValue,
             .authenticationDataWithoutMethod, .noTopicFilters, .invalidSubscriptionOptions, .missingTopicName:
            return .protocolError
        case .malformedRemainingLength, .unknownPacketType, .invalidFixedHeaderFlags, .truncated, .trailingBytes,
             .invalidUTF8, .nullCharacter, .malformedVariableByteInteger, .reservedConnectFlagSet, .invalidWillFlags,
             .invalidQoS, .passwordWithoutUsername, .reservedConnAckFlagsSet, .unknownProperty, .propertyNotAllowed,
             .propertyNotAllowedInWill, .invalidReasonCode, .zeroPacketIdentifier, .reservedSubscriptionOptionBitsSet:
            return .malformedPacket
        }
    }

    public var description: String {
        let message: String
        switch kind {
        case .malformedRemainingLength:
            message = "remaining length is longer than 4 bytes or not minimally encoded"
        case .packetTooLarge(let size, let limit):
            message = "packet of \(size) bytes exceeds the maximum packet size of \(limit) bytes"
        case .unknownPacketType(let type):
            message = "unknown packet type \(type)"
        case .invalidFixedHeaderFlags(let type, let flags):
            message = "invalid fixed header flags 0b\(String(flags, radix: 2).leftPadded(to: 4)) for \(type)"
        case .truncated(let type):
            message = "\(type) fields run past the remaining length"
        case .trailingBytes(let type):
            message = "\(type) has bytes left over after its last field"
        case .invalidUTF8:
            message = "string is not well-formed UTF-8"
        case .nullCharacter:
            message = "string contains the null character U+0000"
        case .malformedVariableByteInteger:
            message = "variable byte integer is longer than 4 bytes or not minimally encoded"
        case .invalidProtocolName(let name):
            message = "invalid protocol name \"\(name)\" (expected \"MQTT\" or \"MQIsdp\")"
        case .unsupportedProtocolVersion(let level):
            message = "unsupported protocol level \(level) (or level does not fit the protocol name)"
        case .reservedConnectFlagSet:
            message = "reserved CONNECT flag (bit 0) is set"
        case .invalidWillFlags:
            message = "will QoS or will retain is set without the will flag"
        case .invalidQoS(let qos):
            message = "invalid QoS \(qos)"
        case .passwordWithoutUsername:
            message = "password flag is set without the user name flag"
        case .reservedConnAckFlagsSet(let flags):
            message = "reserved CONNACK acknowledge flags are set (0x\(hex(flags)))"
        case .firstPacketNotConnect(let type):
            message = "first packet is \(type), not CONNECT"
        case .secondConnect:
            message = "second CONNECT on the same connection"
        case .unknownProperty(let id):
            message = "unknown property identifier 0x\(hex(id))"
        case .propertyNotAllowed(let id, let type):
            message = "property 0x\(hex(id)) is not allowed in \(type)"
        case .propertyNotAllowedInWill(let id):
            message = "property 0x\(hex(id)) is not allowed in will properties"
        case .duplicateProperty(let id):
            message = "property 0x\(hex(id)) appears more than once"
        case .invalidPropertyValue(let id):
            message = "property 0x\(hex(id)) has a value outside its allowed range"
        case .authenticationDataWithoutMethod:
            message = "authentication data without authentication method"
        case .invalidReasonCode(let code, let type):
            message = "reason code 0x\(hex(code)) is not valid in \(type)"
        case .zeroPacketIdentifier(let type):
            message = "\(type) has packet identifier 0"
        case .noTopicFilters(let type):
            message = "\(type) has no topic filters"
        case .reservedSubscriptionOptionBitsSet(let options):
            message = "reserved bits are set in subscription options 0x\(hex(options))"
        case .invalidSubscriptionOptions(let options):
            message = "subscription options 0x\(hex(options)) have QoS 3 or retain handling 3"
        case .invalidTopicName(let topic):
            message = "topic name \"\(topic)\" is empty or contains a wildcard"
        case .missingTopicName:
            message = "PUBLISH has an empty topic name and no topic alias"
        }
        return "MQTT protocol error: \(message) (reason code \(reasonCode))"
    }
}

private func hex(_ byte: UInt8) -> String { String(byte, radix: 16, uppercase: true).leftPadded(to: 2) }
