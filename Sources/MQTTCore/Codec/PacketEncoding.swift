import NIOCore

// The variable header and payload of each packet type: its remaining length, and writing it.
// Each pair must agree byte for byte; the round-trip tests check `encodedSize` against what `encode` writes.

extension Connect {
    private var flags: UInt8 {
        var flags: UInt8 = cleanStart ? 0x02 : 0
        if let will {
            flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0)
        }
        if password != nil { flags |= 0x40 }
        if username != nil { flags |= 0x80 }
        return flags
    }

    /// CONNECT is encoded in its own `protocolVersion`.
    var remainingLength: Int {
        let v5 = protocolVersion.hasProperties
        var length = WireSize.string(protocolVersion.protocolName) + 1 + 1 + 2
        if v5 { length += properties.encodedLength }
        length += WireSize.string(clientIdentifier)
        if let will {
            if v5 { length += will.properties.encodedLength }
            length += WireSize.string(will.topic) + WireSize.binary(will.payload)
        }
        if let username { length += WireSize.string(username) }
        if let password { length += WireSize.binary(password) }
        return length
    }

    func writeBody(into buffer: inout ByteBuffer) {
        let v5 = protocolVersion.hasProperties
        buffer.writeMQTTString(protocolVersion.protocolName)
        buffer.writeInteger(protocolVersion.rawValue)
        buffer.writeInteger(flags)
        buffer.writeInteger(keepAlive)
        if v5 { properties.write(into: &buffer) }
        buffer.writeMQTTString(clientIdentifier)
        if let will {
            if v5 { will.properties.write(into: &buffer) }
            buffer.writeMQTTString(will.topic)
            buffer.writeMQTTBinary(will.payload)
        }
        if let username { buffer.writeMQTTString(username) }
        if let password { buffer.writeMQTTBinary(password) }
    }
}

extension ConnAck {
    func remainingLength(_ version: ProtocolVersion) -> Int {
        2 + (version.hasProperties ? properties.encodedLength : 0)
    }

    func writeBody(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(sessionPresent ? 1 : 0))
        if version.hasProperties {
            buffer.writeInteger(reasonCode.rawValue)
            properties.write(into: &buffer)
        } else {
            buffer.writeInteger(reasonCode.connectReturnCode)
        }
    }
}

extension Publish {
    /// The fixed header's low nibble: DUP, QoS, RETAIN.
    var flags: UInt8 { (dup ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0) }

    /// Remaining length without the payload.
    func variableHeaderLength(_ version: ProtocolVersion) -> Int {
        WireSize.string(topic) + (qos == .atMostOnce ? 0 : 2) + (version.hasProperties ? properties.encodedLength : 0)
    }

    func writeVariableHeader(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeMQTTString(topic)
        if qos != .atMostOnce {
            guard let packetIdentifier else { preconditionFailure("QoS \(qos) PUBLISH without a packet identifier") }
            buffer.writeInteger(packetIdentifier)
        }
        if version.hasProperties { properties.write(into: &buffer) }
    }
}

/// 5.0's optional tail of acknowledgements, DISCONNECT and AUTH: left off entirely on success without
/// properties, the properties left off when there are none.
struct ReasonAndProperties {
    let reasonCode: ReasonCode
    let properties: Properties

    var length: Int {
        if properties.isEmpty { return reasonCode == .success ? 0 : 1 }
        return 1 + properties.encodedLength
    }

    func write(into buffer: inout ByteBuffer) {
        if properties.isEmpty && reasonCode == .success { return }
        buffer.writeInteger(reasonCode.rawValue)
        if !properties.isEmpty { properties.write(into: &buffer) }
    }
}

extension PublishAck {
    /// Before 5.0 an acknowledgement is its packet identifier alone.
    func remainingLength(_ version: ProtocolVersion) -> Int {
        2 + (version.hasProperties ? tail.length : 0)
    }

    func writeBody(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeInteger(packetIdentifier)
        if version.hasProperties { tail.write(into: &buffer) }
    }

    private var tail: ReasonAndProperties { ReasonAndProperties(reasonCode: reasonCode, properties: properties) }
}

extension Subscribe {
    func remainingLength(_ version: ProtocolVersion) -> Int {
        var length = 2 + (version.hasProperties ? properties.encodedLength : 0)
        for subscription in subscriptions { length += WireSize.string(subscription.filter) + 1 }
        return length
    }

    func writeBody(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeInteger(packetIdentifier)
        if version.hasProperties { properties.write(into: &buffer) }
        for subscription in subscriptions {
            buffer.writeMQTTString(subscription.filter)
            var options = subscription.qos.rawValue
            if version.hasProperties {
                if subscription.noLocal { options |= 0x04 }
                if subscription.retainAsPublished { options |= 0x08 }
                options |= subscription.retainHandling.rawValue << 4
            }
            buffer.writeInteger(options)
        }
    }
}

extension SubAck {
    func remainingLength(_ version: ProtocolVersion) -> Int {
        2 + (version.hasProperties ? properties.encodedLength : 0) + reasonCodes.count
    }

    /// Before 5.0 every failure is 0x80.
    func writeBody(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeInteger(packetIdentifier)
        if version.hasProperties { properties.write(into: &buffer) }
        for code in reasonCodes {
            buffer.writeInteger(version.hasProperties || code.rawValue <= 2 ? code.rawValue : 0x80)
        }
    }
}

extension Unsubscribe {
    func remainingLength(_ version: ProtocolVersion) -> Int {
        var length = 2 + (version.hasProperties ? properties.encodedLength : 0)
        for filter in filters { length += WireSize.string(filter) }
        return length
    }

    func writeBody(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeInteger(packetIdentifier)
        if version.hasProperties { properties.write(into: &buffer) }
        for filter in filters { buffer.writeMQTTString(filter) }
    }
}

extension UnsubAck {
    /// Before 5.0 UNSUBACK is its packet identifier alone.
    func remainingLength(_ version: ProtocolVersion) -> Int {
        2 + (version.hasProperties ? properties.encodedLength + reasonCodes.count : 0)
    }

    func writeBody(_ version: ProtocolVersion, into buffer: inout ByteBuffer) {
        buffer.writeInteger(packetIdentifier)
        guard version.hasProperties else { return }
        properties.write(into: &buffer)
        for code in reasonCodes { buffer.writeInteger(code.rawValue) }
    }
}
