import NIOCore

/// Reads MQTT data types (section 1.5) from the body of one packet, turning every shortfall or invalid value
/// into the `MQTTProtocolError` that names it. Binary fields come out as slices of the body, never copies.
struct PacketReader {
    private(set) var buffer: ByteBuffer
    let type: PacketType

    init(_ body: ByteBuffer, type: PacketType) {
        self.buffer = body
        self.type = type
    }

    var isAtEnd: Bool { buffer.readableBytes == 0 }
    var remainingBytes: Int { buffer.readableBytes }

    /// Throws `trailingBytes` unless every byte of the body has been read.
    func expectEnd() throws(MQTTProtocolError) {
        guard isAtEnd else { throw MQTTProtocolError(.trailingBytes(type)) }
    }

    mutating func readByte() throws(MQTTProtocolError) -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw MQTTProtocolError(.truncated(type)) }
        return value
    }

    mutating func readUInt16() throws(MQTTProtocolError) -> UInt16 {
        guard let value = buffer.readInteger(as: UInt16.self) else { throw MQTTProtocolError(.truncated(type)) }
        return value
    }

    mutating func readUInt32() throws(MQTTProtocolError) -> UInt32 {
        guard let value = buffer.readInteger(as: UInt32.self) else { throw MQTTProtocolError(.truncated(type)) }
        return value
    }

    mutating func readVariableByteInteger() throws(MQTTProtocolError) -> Int {
        switch VariableByteInteger.peek(buffer, at: buffer.readerIndex) {
        case .value(let value, let length):
            buffer.moveReaderIndex(forwardBy: length)
            return value
        case .needMoreBytes: throw MQTTProtocolError(.truncated(type))
        case .malformed: throw MQTTProtocolError(.malformedVariableByteInteger)
        }
    }

    /// A non-zero packet identifier.
    mutating func readPacketIdentifier() throws(MQTTProtocolError) -> UInt16 {
        let identifier = try readUInt16()
        guard identifier != 0 else { throw MQTTProtocolError(.zeroPacketIdentifier(type)) }
        return identifier
    }

    /// Binary data: a two-byte length and that many bytes, as a slice.
    mutating func readBinary() throws(MQTTProtocolError) -> ByteBuffer {
        let length = Int(try readUInt16())
        guard let slice = buffer.readSlice(length: length) else { throw MQTTProtocolError(.truncated(type)) }
        return slice
    }

    /// `length` bytes as a slice.
    mutating func readSlice(length: Int) throws(MQTTProtocolError) -> ByteBuffer {
        guard let slice = buffer.readSlice(length: length) else { throw MQTTProtocolError(.truncated(type)) }
        return slice
    }

    /// Everything left in the body, as a slice (a PUBLISH payload).
    mutating func readRest() -> ByteBuffer {
        buffer.readSlice(length: buffer.readableBytes)!
    }

    /// A UTF-8 encoded string: well-formed UTF-8 (so no surrogates, no overlong forms) without U+0000.
    mutating func readString() throws(MQTTProtocolError) -> String {
        let length = Int(try readUInt16())
        guard length <= buffer.readableBytes else { throw MQTTProtocolError(.truncated(type)) }
        if length == 0 { return "" }
        // The closure returns a verdict; throwing from inside `withUnsafeReadableBytes` would lose the error type.
        let verdict: Result<String, MQTTProtocolError> = buffer.withUnsafeReadableBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[..<length])
            switch Self.scan(bytes) {
            case .null:
                return .failure(MQTTProtocolError(.nullCharacter))
            case .ascii:
                // ASCII is well-formed UTF-8, so decoding cannot repair anything here; it is 2–3× faster than
                // `String(validating:)`, and topics are mostly ASCII.
                return .success(String(decoding: bytes, as: UTF8.self))
            case .nonASCII:
                guard let string = String(validating: bytes, as: UTF8.self) else {
                    return .failure(MQTTProtocolError(.invalidUTF8))
                }
                return .success(string)
            }
        }
        let string = try verdict.get()
        buffer.moveReaderIndex(forwardBy: length)
        return string
    }

    private enum Scan { case ascii, nonASCII, null }

    /// Whether `bytes` hold a zero byte, else whether they are all ASCII — eight bytes at a time.
    private static func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        var high: UInt64 = 0
        var zero: UInt64 = 0
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            high |= word
            zero |= (word &- ones) & ~word  // its high bits are non-zero exactly when the word has a zero byte
            offset += 8
        }
        while offset < bytes.count {
            let byte = UInt64(bytes[offset])
            high |= byte
            if byte == 0 { zero |= 0x80 }
            offset += 1
        }
        if zero & highBits != 0 { return .null }
        return high & highBits == 0 ? .ascii : .nonASCII
    }
}
