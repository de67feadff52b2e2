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
            // Fast path: plain ASCII (most topics) needs no UTF-8 validation.
            var isASCII = true
            for byte in bytes {
                if byte == 0 { return .failure(MQTTProtocolError(.nullCharacter)) }
                if byte >= 0x80 { isASCII = false }
            }
            if isASCII { return .success(String(decoding: bytes, as: UTF8.self)) }
            guard let string = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
                return .failure(MQTTProtocolError(.invalidUTF8))
            }
            return .success(string)
        }
        let string = try verdict.get()
        buffer.moveReaderIndex(forwardBy: length)
        return string
    }
}
