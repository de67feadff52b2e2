import NIOCore

/// MQTT's variable byte integer (section 1.5.5): 7 bits per byte, least significant first, at most 4 bytes,
/// always in the fewest bytes that hold the value. Used for the remaining length, property lengths,
/// and subscription identifiers.
@usableFromInline
enum VariableByteInteger {
    /// The largest value 4 bytes can hold.
    @usableFromInline static let maximum = 268_435_455

    @usableFromInline
    enum Peek {
        case value(Int, length: Int)
        case needMoreBytes
        /// Longer than 4 bytes, or not minimally encoded.
        case malformed
    }

    /// Reads a variable byte integer at `index` without moving the reader index.
    @inlinable
    static func peek(_ buffer: ByteBuffer, at index: Int) -> Peek {
        var value = 0
        for position in 0..<4 {
            guard let byte = buffer.getInteger(at: index + position, as: UInt8.self) else { return .needMoreBytes }
            value |= Int(byte & 0x7F) << (7 * position)
            if byte & 0x80 == 0 {
                // A last byte of 0 after a continuation byte means a shorter encoding existed.
                return byte == 0 && position > 0 ? .malformed : .value(value, length: position + 1)
            }
        }
        return .malformed
    }

    /// Bytes needed to encode `value`.
    @inlinable
    static func size(of value: Int) -> Int {
        switch value {
        case ..<128: return 1
        case ..<16_384: return 2
        case ..<2_097_152: return 3
        default: return 4
        }
    }

    @inlinable
    static func write(_ value: Int, into buffer: inout ByteBuffer) {
        precondition(value >= 0 && value <= maximum, "variable byte integer \(value) out of range")
        var rest = value
        repeat {
            var byte = UInt8(rest & 0x7F)
            rest >>= 7
            if rest > 0 { byte |= 0x80 }
            buffer.writeInteger(byte)
        } while rest > 0
    }
}
