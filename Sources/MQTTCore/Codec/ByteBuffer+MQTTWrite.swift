import NIOCore

/// Writers and sizes of MQTT data types (section 1.5), shared by the packet and property encoders.
extension ByteBuffer {
    /// A UTF-8 encoded string: two-byte length, then the bytes. Strings longer than 65,535 bytes cannot be
    /// encoded; callers validate what they put into packets (everything the decoder produces fits).
    @inlinable
    public mutating func writeMQTTString(_ string: String) {
        let length = string.utf8.count
        precondition(length <= 65_535, "MQTT string of \(length) bytes exceeds 65,535")
        writeInteger(UInt16(length))
        writeString(string)
    }

    /// Reads what `writeMQTTString` wrote; nil, with nothing consumed, when the bytes are not all there.
    /// Not validated as MQTT requires of a packet's strings (the packet decoder does that): for
    /// Starling's own formats, such as cluster frames.
    public mutating func readMQTTString() -> String? {
        guard let length: UInt16 = getInteger(at: readerIndex),
              let string = getString(at: readerIndex + 2, length: Int(length)) else { return nil }
        moveReaderIndex(forwardBy: 2 + Int(length))
        return string
    }

    /// Binary data: two-byte length, then the bytes.
    @inlinable
    mutating func writeMQTTBinary(_ data: ByteBuffer) {
        precondition(data.readableBytes <= 65_535, "MQTT binary data of \(data.readableBytes) bytes exceeds 65,535")
        writeInteger(UInt16(data.readableBytes))
        writeImmutableBuffer(data)
    }
}

/// Encoded sizes of the MQTT data types.
@usableFromInline
enum WireSize {
    @inlinable static func string(_ string: String) -> Int { 2 + string.utf8.count }
    @inlinable static func binary(_ data: ByteBuffer) -> Int { 2 + data.readableBytes }
}
