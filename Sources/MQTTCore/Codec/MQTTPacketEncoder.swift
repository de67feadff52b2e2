import NIOCore

/// Turns packets into bytes in the format of a protocol version.
///
/// The size is computed first and the buffer grown once; nothing is staged in intermediate buffers.
/// Before 5.0, properties and the reason codes that 3.1.1 lacks are left out (3.1.1 CONNACK carries
/// `reasonCode.connectReturnCode`, SUBACK failures become 0x80). 5.0 acknowledgements, DISCONNECT and AUTH use
/// their short forms when the reason code is success and there are no properties.
///
/// CONNECT is always encoded in its own `protocolVersion`; AUTH, which exists only in 5.0, always in 5.0's
/// format. Strings longer than 65,535 bytes and QoS 1/2 PUBLISHes without a packet identifier are programming
/// errors (preconditions): validate what comes from outside before putting it into a packet.
public enum MQTTPacketEncoder {
    public static func encode(_ packet: MQTTPacket, version: ProtocolVersion, into buffer: inout ByteBuffer) {
        let remainingLength = remainingLength(of: packet, version: version)
        buffer.reserveCapacity(minimumWritableBytes: wholeSize(remainingLength: remainingLength))
        buffer.writeInteger(fixedHeader(packet))
        VariableByteInteger.write(remainingLength, into: &buffer)
        writeBody(of: packet, version: version, into: &buffer)
    }

    /// Size in bytes of the whole encoded packet (to respect a peer's Maximum Packet Size).
    public static func encodedSize(of packet: MQTTPacket, version: ProtocolVersion) -> Int {
        return wholeSize(remainingLength: remainingLength(of: packet, version: version))
    }

    /// Writes a PUBLISH's fixed header and variable header (remaining length counts the payload) but NOT the
    /// payload, so the caller can write the shared payload buffer after it without copying it.
    public static func encodePublishHeader(_ publish: Publish, version: ProtocolVersion, into buffer: inout ByteBuffer) {
        let headerLength = publish.variableHeaderLength(version)
        let remainingLength = headerLength + publish.payload.readableBytes
        buffer.reserveCapacity(minimumWritableBytes: 1 + VariableByteInteger.size(of: remainingLength) + headerLength)
        buffer.writeInteger(PacketType.publish.rawValue << 4 | publish.flags)
        VariableByteInteger.write(remainingLength, into: &buffer)
        publish.writeVariableHeader(version, into: &buffer)
    }

    /// Size in bytes of the whole encoded PUBLISH, payload included.
    public static func encodedSize(ofPublish publish: Publish, version: ProtocolVersion) -> Int {
        wholeSize(remainingLength: publish.variableHeaderLength(version) + publish.payload.readableBytes)
    }

    private static func wholeSize(remainingLength: Int) -> Int {
        1 + VariableByteInteger.size(of: remainingLength) + remainingLength
    }

    /// Packet type in the high nibble; the low nibble is fixed for every type but PUBLISH.
    private static func fixedHeader(_ packet: MQTTPacket) -> UInt8 {
        switch packet {
        case .publish(let publish): return PacketType.publish.rawValue << 4 | publish.flags
        case .pubrel, .subscribe, .unsubscribe: return packet.type.rawValue << 4 | 0b0010
        default: return packet.type.rawValue << 4
        }
    }

    private static func remainingLength(of packet: MQTTPacket, version: ProtocolVersion) -> Int {
        switch packet {
        case .connect(let connect): return connect.remainingLength
        case .connack(let connAck): return connAck.remainingLength(version)
        case .publish(let publish): return publish.variableHeaderLength(version) + publish.payload.readableBytes
        case .puback(let ack), .pubrec(let ack), .pubrel(let ack), .pubcomp(let ack):
            return ack.remainingLength(version)
        case .subscribe(let subscribe): return subscribe.remainingLength(version)
        case .suback(let subAck): return subAck.remainingLength(version)
        case .unsubscribe(let unsubscribe): return unsubscribe.remainingLength(version)
        case .unsuback(let unsubAck): return unsubAck.remainingLength(version)
        case .pingreq, .pingresp: return 0
        case .disconnect(let disconnect):
            guard version.hasProperties else { return 0 }
            return ReasonAndProperties(reasonCode: disconnect.reasonCode, properties: disconnect.properties).length
        case .auth(let auth):
            return ReasonAndProperties(reasonCode: auth.reasonCode, properties: auth.properties).length
        }
    }

    private static func writeBody(of packet: MQTTPacket, version: ProtocolVersion, into buffer: inout ByteBuffer) {
        switch packet {
        case .connect(let connect): connect.writeBody(into: &buffer)
        case .connack(let connAck): connAck.writeBody(version, into: &buffer)
        case .publish(let publish):
            publish.writeVariableHeader(version, into: &buffer)
            buffer.writeImmutableBuffer(publish.payload)
        case .puback(let ack), .pubrec(let ack), .pubrel(let ack), .pubcomp(let ack):
            ack.writeBody(version, into: &buffer)
        case .subscribe(let subscribe): subscribe.writeBody(version, into: &buffer)
        case .suback(let subAck): subAck.writeBody(version, into: &buffer)
        case .unsubscribe(let unsubscribe): unsubscribe.writeBody(version, into: &buffer)
        case .unsuback(let unsubAck): unsubAck.writeBody(version, into: &buffer)
        case .pingreq, .pingresp: break
        case .disconnect(let disconnect):
            guard version.hasProperties else { return }
            ReasonAndProperties(reasonCode: disconnect.reasonCode, properties: disconnect.properties)
                .write(into: &buffer)
        case .auth(let auth):
            ReasonAndProperties(reasonCode: auth.reasonCode, properties: auth.properties).write(into: &buffer)
        }
    }
}
