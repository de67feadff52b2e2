import NIOCore

/// Turns bytes into `MQTTPacket`s, one at a time, for either side of a connection.
///
/// Framing (fixed header, remaining length, size limit) happens here; the body of each packet is checked
/// against the rules of the version in use. Every error is fatal to the connection.
///
/// A server-side decoder starts with `version == nil`: the first packet must be CONNECT, and the decoder
/// takes the version from it — as soon as the protocol name and level are read, so that a fault later in the
/// same CONNECT can still be answered with a CONNACK in the client's version. A client sets `version` up front
/// and `expectsConnectFirst` to false.
public struct MQTTPacketDecoder: Sendable {
    /// nil until CONNECT is decoded (server side); the decoder then sets it from CONNECT. A client sets it up front.
    public var version: ProtocolVersion?
    /// Largest whole packet accepted (fixed header + remaining length), checked as soon as the remaining length
    /// is known — before the bytes arrive.
    public var maximumPacketSize: Int
    /// Server side: the first packet must be CONNECT and a second CONNECT is a protocol error.
    /// When false, any CONNECT is decoded (and sets `version`); packets other than CONNECT still need a version.
    public var expectsConnectFirst: Bool

    public init(version: ProtocolVersion? = nil, maximumPacketSize: Int = 268_435_460,
                expectsConnectFirst: Bool = true) {
        self.version = version
        self.maximumPacketSize = maximumPacketSize
        self.expectsConnectFirst = expectsConnectFirst
    }

    /// Decodes one packet from the front of `buffer` (moving its reader index past it), or returns nil and leaves
    /// `buffer` untouched when it does not yet hold a whole packet. Payloads and binary fields are slices
    /// (`readSlice`), never copies.
    ///
    /// Faults visible in the fixed header (packet type, flags, remaining length, size) are thrown as soon as
    /// those bytes are there; faults in the body once the whole packet is.
    @inlinable
    public mutating func next(from buffer: inout ByteBuffer) throws(MQTTProtocolError) -> MQTTPacket? {
        guard let header = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        let type = try checkFixedHeader(header)
        switch VariableByteInteger.peek(buffer, at: buffer.readerIndex + 1) {
        case .needMoreBytes:
            return nil
        case .malformed:
            throw MQTTProtocolError(.malformedRemainingLength)
        case .value(let remainingLength, let lengthBytes):
            let size = 1 + lengthBytes + remainingLength
            guard size <= maximumPacketSize else {
                throw MQTTProtocolError(.packetTooLarge(size: size, limit: maximumPacketSize))
            }
            guard buffer.readableBytes >= size else { return nil }
            buffer.moveReaderIndex(forwardBy: 1 + lengthBytes)
            let body = buffer.readSlice(length: remainingLength)!
            return try decodeBody(type: type, flags: header & 0x0F, body: body)
        }
    }

    /// Checks the first byte: a known packet type, allowed at this point of the connection, with the flags its
    /// type requires.
    @usableFromInline
    func checkFixedHeader(_ header: UInt8) throws(MQTTProtocolError) -> PacketType {
        guard let type = PacketType(rawValue: header >> 4) else {
            throw MQTTProtocolError(.unknownPacketType(header >> 4))
        }
        if version == nil {
            guard type == .connect else { throw MQTTProtocolError(.firstPacketNotConnect(type)) }
        } else if type == .connect && expectsConnectFirst {
            throw MQTTProtocolError(.secondConnect)
        } else if type == .auth && version != .v5 {
            throw MQTTProtocolError(.unknownPacketType(type.rawValue))
        }
        let flags = header & 0x0F
        switch type {
        case .publish:
            let qos = (flags >> 1) & 0b11
            guard qos != 3 else { throw MQTTProtocolError(.invalidQoS(qos)) }
            // DUP must be 0 on QoS 0.
            guard qos != 0 || flags & 0b1000 == 0 else {
                throw MQTTProtocolError(.invalidFixedHeaderFlags(type, flags))
            }
        case .pubrel, .subscribe, .unsubscribe:
            guard flags == 0b0010 else { throw MQTTProtocolError(.invalidFixedHeaderFlags(type, flags)) }
        default:
            guard flags == 0 else { throw MQTTProtocolError(.invalidFixedHeaderFlags(type, flags)) }
        }
        return type
    }

    /// Decodes the variable header and payload of one whole packet.
    @usableFromInline
    mutating func decodeBody(type: PacketType, flags: UInt8, body: ByteBuffer) throws(MQTTProtocolError)
        -> MQTTPacket
    {
        var reader = PacketReader(body, type: type)
        let packet: MQTTPacket
        if type == .connect {
            let version = try reader.readProtocolVersion()
            self.version = version
            packet = .connect(try reader.readConnect(version: version))
        } else {
            // `checkFixedHeader` lets no other packet through without a version.
            packet = try reader.readPacket(type: type, flags: flags, version: version!)
        }
        try reader.expectEnd()
        return packet
    }
}
