import NIOCore

/// Decoding, validation and encoding of 5.0 property lists (section 2.2.2).
extension PacketReader {
    /// Reads a property list (length, then properties) and checks each property against the packet type
    /// (or the will properties when `will` is true), duplicates and value ranges.
    mutating func readProperties(will: Bool = false) throws(MQTTProtocolError) -> Properties {
        let length = try readVariableByteInteger()
        if length == 0 { return Properties() }
        var reader = PacketReader(try readSlice(length: length), type: type)
        let context = will ? PropertyRules.willContext : PropertyRules.context(type)
        var seen: UInt64 = 0
        var list: [Property] = []
        while !reader.isAtEnd {
            let identifier = try reader.readByte()
            guard let allowed = PropertyRules.allowedContexts(identifier) else {
                throw MQTTProtocolError(.unknownProperty(identifier))
            }
            guard allowed & context != 0 else {
                throw MQTTProtocolError(will ? .propertyNotAllowedInWill(identifier)
                                             : .propertyNotAllowed(identifier, type))
            }
            let bit: UInt64 = 1 << identifier
            if seen & bit != 0 && !PropertyRules.mayRepeat(identifier, in: type) {
                throw MQTTProtocolError(.duplicateProperty(identifier))
            }
            seen |= bit
            list.append(try reader.readPropertyValue(identifier))
        }
        if seen & (1 << 0x16) != 0 && seen & (1 << 0x15) == 0 {
            throw MQTTProtocolError(.authenticationDataWithoutMethod)
        }
        return Properties(list)
    }

    /// The value of the property `identifier` (already known to exist), range-checked.
    private mutating func readPropertyValue(_ identifier: UInt8) throws(MQTTProtocolError) -> Property {
        func check<T>(_ value: T, _ valid: Bool) throws(MQTTProtocolError) -> T {
            guard valid else { throw MQTTProtocolError(.invalidPropertyValue(identifier)) }
            return value
        }
        func flag() throws(MQTTProtocolError) -> UInt8 {
            let value = try readByte()
            return try check(value, value <= 1)
        }
        switch identifier {
        case 0x01: return .payloadFormatIndicator(try flag())
        case 0x02: return .messageExpiryInterval(try readUInt32())
        case 0x03: return .contentType(try readString())
        case 0x08:
            let topic = try readString()
            return .responseTopic(try check(topic, MQTTTopic.isValidName(topic)))
        case 0x09: return .correlationData(try readBinary())
        case 0x0B:
            let value = try readVariableByteInteger()
            return .subscriptionIdentifier(UInt32(try check(value, value != 0)))
        case 0x11: return .sessionExpiryInterval(try readUInt32())
        case 0x12: return .assignedClientIdentifier(try readString())
        case 0x13: return .serverKeepAlive(try readUInt16())
        case 0x15: return .authenticationMethod(try readString())
        case 0x16: return .authenticationData(try readBinary())
        case 0x17: return .requestProblemInformation(try flag())
        case 0x18: return .willDelayInterval(try readUInt32())
        case 0x19: return .requestResponseInformation(try flag())
        case 0x1A: return .responseInformation(try readString())
        case 0x1C: return .serverReference(try readString())
        case 0x1F: return .reasonString(try readString())
        case 0x21:
            let value = try readUInt16()
            return .receiveMaximum(try check(value, value != 0))
        case 0x22: return .topicAliasMaximum(try readUInt16())
        case 0x23:
            let value = try readUInt16()
            return .topicAlias(try check(value, value != 0))
        case 0x24: return .maximumQoS(try flag())
        case 0x25: return .retainAvailable(try flag())
        case 0x26: return .userProperty(try readString(), try readString())
        case 0x27:
            let value = try readUInt32()
            return .maximumPacketSize(try check(value, value != 0))
        case 0x28: return .wildcardSubscriptionAvailable(try flag())
        case 0x29: return .subscriptionIdentifierAvailable(try flag())
        case 0x2A: return .sharedSubscriptionAvailable(try flag())
        default: preconditionFailure("property 0x\(identifier) passed PropertyRules but has no decoder")
        }
    }
}

/// Where each property may appear (the table in section 2.2.2.2), as bit sets: bit n stands for the packet
/// type with raw value n, bit 0 (no packet type has it) for the will properties of CONNECT.
enum PropertyRules {
    static let willContext: UInt16 = 1
    static func context(_ type: PacketType) -> UInt16 { 1 << type.rawValue }

    private static let will = willContext
    private static let connect = context(.connect), connack = context(.connack), publish = context(.publish)
    private static let acks = context(.puback) | context(.pubrec) | context(.pubrel) | context(.pubcomp)
    private static let subscribe = context(.subscribe), disconnect = context(.disconnect), auth = context(.auth)
    private static let everywhere: UInt16 = 0xFFFF

    /// The contexts allowing `identifier`, or nil when 5.0 does not define it.
    static func allowedContexts(_ identifier: UInt8) -> UInt16? {
        switch identifier {
        case 0x01, 0x02, 0x03, 0x08, 0x09: return publish | will
        case 0x18: return will
        case 0x0B: return publish | subscribe
        case 0x11: return connect | connack | disconnect
        case 0x12, 0x13, 0x1A, 0x24, 0x25, 0x28, 0x29, 0x2A: return connack
        case 0x15, 0x16: return connect | connack | auth
        case 0x17, 0x19: return connect
        case 0x1C: return connack | disconnect
        case 0x1F:
            return connack | acks | context(.suback) | context(.unsuback) | disconnect | auth
        case 0x21, 0x22, 0x27: return connect | connack
        case 0x23: return publish
        case 0x26: return everywhere
        default: return nil
        }
    }

    /// User properties repeat anywhere; subscription identifiers only in PUBLISH (one per matching subscription).
    static func mayRepeat(_ identifier: UInt8, in type: PacketType) -> Bool {
        identifier == 0x26 || (identifier == 0x0B && type == .publish)
    }
}

extension Properties {
    /// Bytes of the properties themselves, without the length in front.
    var contentLength: Int {
        var length = 0
        for property in list { length += property.encodedLength }
        return length
    }

    /// Bytes of the length in front and the properties.
    var encodedLength: Int {
        let content = contentLength
        return VariableByteInteger.size(of: content) + content
    }

    /// Writes the length, then the properties.
    func write(into buffer: inout ByteBuffer) {
        VariableByteInteger.write(contentLength, into: &buffer)
        for property in list { property.write(into: &buffer) }
    }
}

extension Property {
    /// Identifier byte plus value.
    var encodedLength: Int {
        switch self {
        case .payloadFormatIndicator, .requestProblemInformation, .requestResponseInformation, .maximumQoS,
             .retainAvailable, .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable,
             .sharedSubscriptionAvailable:
            return 2
        case .serverKeepAlive, .receiveMaximum, .topicAliasMaximum, .topicAlias:
            return 3
        case .messageExpiryInterval, .sessionExpiryInterval, .willDelayInterval, .maximumPacketSize:
            return 5
        case .subscriptionIdentifier(let value):
            return 1 + VariableByteInteger.size(of: Int(value))
        case .contentType(let s), .responseTopic(let s), .assignedClientIdentifier(let s),
             .authenticationMethod(let s), .responseInformation(let s), .serverReference(let s),
             .reasonString(let s):
            return 1 + WireSize.string(s)
        case .correlationData(let data), .authenticationData(let data):
            return 1 + WireSize.binary(data)
        case .userProperty(let name, let value):
            return 1 + WireSize.string(name) + WireSize.string(value)
        }
    }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(identifier)
        switch self {
        case .payloadFormatIndicator(let v), .requestProblemInformation(let v), .requestResponseInformation(let v),
             .maximumQoS(let v), .retainAvailable(let v), .wildcardSubscriptionAvailable(let v),
             .subscriptionIdentifierAvailable(let v), .sharedSubscriptionAvailable(let v):
            buffer.writeInteger(v)
        case .serverKeepAlive(let v), .receiveMaximum(let v), .topicAliasMaximum(let v), .topicAlias(let v):
            buffer.writeInteger(v)
        case .messageExpiryInterval(let v), .sessionExpiryInterval(let v), .willDelayInterval(let v),
             .maximumPacketSize(let v):
            buffer.writeInteger(v)
        case .subscriptionIdentifier(let v):
            VariableByteInteger.write(Int(v), into: &buffer)
        case .contentType(let s), .responseTopic(let s), .assignedClientIdentifier(let s),
             .authenticationMethod(let s), .responseInformation(let s), .serverReference(let s),
             .reasonString(let s):
            buffer.writeMQTTString(s)
        case .correlationData(let data), .authenticationData(let data):
            buffer.writeMQTTBinary(data)
        case .userProperty(let name, let value):
            buffer.writeMQTTString(name)
            buffer.writeMQTTString(value)
        }
    }
}
