import CFFI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A C function of a declared signature, called through libffi (`ffi_prep_cif` once, then
/// `ffi_call` per call).
///
/// C types: `int64` is `int64_t`, `double` is `double`, `bool` is C99 `bool`, `string` is
/// `const char *` (NUL-terminated UTF-8) as an argument - valid during the call only - and
/// `char *` allocated with `malloc` as a result, which the caller frees (NULL reads as "").
/// Calls may run on several threads at once: the prepared call description is never written
/// after `init`.
public final class FFIFunction: @unchecked Sendable {  // the cif and type array are read-only after init
    public let signature: FFISignature
    private let pointer: @convention(c) () -> Void
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    /// Prepares calls of `pointer` as `signature` describes it.
    public init(_ pointer: @escaping @convention(c) () -> Void, signature: FFISignature) throws(FFIError) {
        self.signature = signature
        self.pointer = pointer
        cif = .allocate(capacity: 1)
        argumentTypes = .allocate(capacity: max(signature.arguments.count, 1))
        for (index, type) in signature.arguments.enumerated() { argumentTypes[index] = Self.ffiType(type) }
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(signature.arguments.count), Self.ffiType(signature.result),
                                  signature.arguments.isEmpty ? nil : argumentTypes)
        guard status == FFI_OK else {
            cif.deallocate()
            argumentTypes.deallocate()
            throw .preparation(Int(status.rawValue))
        }
    }

    deinit {
        cif.deallocate()
        argumentTypes.deallocate()
    }

    /// Checks `arguments` against the signature, calls the function and returns its result.
    public func call(_ arguments: [FFIValue]) throws(FFIError) -> FFIValue {
        let types = signature.arguments
        guard arguments.count == types.count else {
            throw .argumentCount(expected: types.count, given: arguments.count, signature: signature.description)
        }
        for (index, (value, type)) in zip(arguments, types).enumerated() where value.type != type {
            throw .argumentType(index: index, expected: type, given: value.type, signature: signature.description)
        }
        // One 8-byte slot per argument holds its value (a string: its strdup'ed pointer).
        let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: max(arguments.count, 1))
        let values = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(arguments.count, 1))
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer {
            strings.forEach { free($0) }
            slots.deallocate()
            values.deallocate()
        }
        for (index, value) in arguments.enumerated() {
            let slot = UnsafeMutableRawPointer(slots + index)
            switch value {
            case .int64(let number): slot.storeBytes(of: number, as: Int64.self)
            case .double(let number): slot.storeBytes(of: number, as: Double.self)
            case .bool(let flag): slot.storeBytes(of: flag ? 1 : 0, as: UInt8.self)
            case .string(let text):
                let copy = strdup(text)!
                strings.append(copy)
                slot.storeBytes(of: copy, as: UnsafeMutablePointer<CChar>.self)
            case .void: break
            }
            values[index] = slot
        }
        // libffi widens integer results narrower than a register to ffi_arg: room for 16 bytes.
        var result: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &result) { bytes in
            ffi_call(cif, pointer, bytes.baseAddress, arguments.isEmpty ? nil : values)
        }
        return withUnsafeBytes(of: &result) { bytes -> FFIValue in
            switch signature.result {
            case .void: return .void
            case .int64: return .int64(bytes.load(as: Int64.self))
            case .double: return .double(bytes.load(as: Double.self))
            case .bool: return .bool(UInt8(truncatingIfNeeded: bytes.load(as: UInt.self)) != 0)
            case .string:
                guard let text = bytes.load(as: UnsafeMutablePointer<CChar>?.self) else { return .string("") }
                defer { free(text) }
                return .string(String(cString: text))
            }
        }
    }

    private static func ffiType(_ type: FFIType) -> UnsafeMutablePointer<ffi_type> {
        switch type {
        case .int64: starling_ffi_sint64()
        case .double: starling_ffi_double()
        case .bool: starling_ffi_uint8()
        case .string: starling_ffi_pointer()
        case .void: starling_ffi_void()
        }
    }
}
