import NIOCore

/// UTF-8 checks for payloads whose format indicator says they are text.
enum UTF8Validation {
    /// Whether `buffer`'s readable bytes are well-formed UTF-8 (no surrogates, no overlongs).
    static func isValid(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { bytes in
            String(validating: bytes, as: UTF8.self) != nil
        }
    }
}

