import NIOCore

// Borrowing Swift values as C pointers for the length of one call into a plugin.

/// Runs `body` with `string` as a NUL-terminated pointer into its own storage (or NULL) and its length.
@inline(__always)
func withCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?, Int) -> R) -> R {
    guard let string else { return body(nil, 0) }
    return string.withCString { body($0, string.utf8.count) }
}

/// Runs `body` with the readable bytes of `buffer` (NULL when there is no buffer; a present empty
/// buffer still gets a non-NULL pointer) and their count.
@inline(__always)
func withBytes<R>(_ buffer: ByteBuffer?, _ body: (UnsafePointer<UInt8>?, Int) -> R) -> R {
    guard let buffer else { return body(nil, 0) }
    return buffer.withUnsafeReadableBytes { bytes in
        if let base = bytes.baseAddress { return body(base.assumingMemoryBound(to: UInt8.self), bytes.count) }
        return withUnsafePointer(to: UInt8(0)) { body($0, 0) }
    }
}

/// Runs `body` with a message payload's bytes and their count: NULL when the payload is empty, as
/// the header promises for every payload field.
@inline(__always)
func withPayload<R>(_ payload: ByteBuffer, _ body: (UnsafePointer<UInt8>?, Int) -> R) -> R {
    payload.withUnsafeReadableBytes { bytes in
        body(bytes.isEmpty ? nil : bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
}
