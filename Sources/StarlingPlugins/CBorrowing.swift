import NIOCore

// Borrowing Swift values as C pointers for the length of one call into a plugin.

/// Runs `body` with `string` as a NUL-terminated pointer into its own storage (or NULL) and its length.
@inline(__always)
func withCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?, Int) -> R) -> R {
    guard let string else { return body(nil, 0) }
    return string.withCString { body($0, string.utf8.count) }
}

/// A string's NUL-terminated bytes (NULL for no string) and their count, valid inside the call
/// that made it.
struct CStringView {
    let pointer: UnsafePointer<CChar>?
    let count: Int
}

/// Runs `body` with a string as a C string and a payload's bytes (NULL when empty) at once (see
/// the next function for why).
@inline(__always)
func withCStrings<R>(_ string: String, payload: ByteBuffer, _ body: (CStringView, UnsafeRawBufferPointer) -> R) -> R {
    string.withCString { pointer in
        payload.withUnsafeReadableBytes { bytes in
            body(CStringView(pointer: pointer, count: string.utf8.count),
                 bytes.isEmpty ? UnsafeRawBufferPointer(start: nil, count: 0) : bytes)
        }
    }
}

/// Runs `body` with three strings as C strings and a payload's bytes (NULL when empty, as the
/// header promises) at once. For the events of every message: handed the fields themselves, the
/// nested closures retain nothing, where closures reading each field of a captured object retained
/// that object around every level (an atomic retain and release per level and per call).
@inline(__always)
func withCStrings<R>(_ first: String?, _ second: String?, _ third: String?, payload: ByteBuffer,
                     _ body: (CStringView, CStringView, CStringView, UnsafeRawBufferPointer) -> R) -> R {
    withCString(first) { firstPointer, firstCount in
        withCString(second) { secondPointer, secondCount in
            withCString(third) { thirdPointer, thirdCount in
                payload.withUnsafeReadableBytes { bytes in
                    body(CStringView(pointer: firstPointer, count: firstCount),
                         CStringView(pointer: secondPointer, count: secondCount),
                         CStringView(pointer: thirdPointer, count: thirdCount),
                         bytes.isEmpty ? UnsafeRawBufferPointer(start: nil, count: 0) : bytes)
                }
            }
        }
    }
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
