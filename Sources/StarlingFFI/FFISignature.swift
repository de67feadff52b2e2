/// The type of one argument or result of an exported function, as a signature names it.
public enum FFIType: String, Sendable, Equatable, CaseIterable {
    case int64
    case double
    case bool
    case string
    /// Results only: the function returns nothing.
    case void
}

/// A declared signature: `RESULT(ARG,ARG,...)`, e.g. `int64(int64,double,bool,string)` or
/// `void()`. Types: `int64`, `double`, `bool`, `string` (`void` as the result only); spaces
/// anywhere are ignored; at most `maximumArguments` arguments.
public struct FFISignature: Sendable, Equatable, CustomStringConvertible {
    public static let maximumArguments = 16

    public let result: FFIType
    public let arguments: [FFIType]

    public init(result: FFIType, arguments: [FFIType]) {
        self.result = result
        self.arguments = arguments
    }

    /// Parses `text`; throws `FFIError.badSignature` naming what is wrong.
    public init(parsing text: String) throws(FFIError) {
        let compact = text.filter { !$0.isWhitespace }
        guard let open = compact.firstIndex(of: "("), compact.last == ")" else {
            throw .badSignature("'\(text)': expected RESULT(ARG,...), e.g. int64(int64,double,bool,string)")
        }
        let resultName = String(compact[..<open])
        let list = compact[compact.index(after: open)..<compact.index(before: compact.endIndex)]
        guard let result = FFIType(rawValue: resultName) else {
            throw .badSignature("'\(text)': unknown result type '\(resultName)' (use int64, double, bool, string or void)")
        }
        var arguments: [FFIType] = []
        if !list.isEmpty {
            for name in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let type = FFIType(rawValue: String(name)), type != .void else {
                    throw .badSignature("'\(text)': unknown argument type '\(name)' (use int64, double, bool or string)")
                }
                arguments.append(type)
            }
        }
        guard arguments.count <= Self.maximumArguments else {
            throw .badSignature("'\(text)': \(arguments.count) arguments, at most \(Self.maximumArguments)")
        }
        self.init(result: result, arguments: arguments)
    }

    /// The canonical text: `int64(int64,double)`.
    public var description: String {
        "\(result.rawValue)(\(arguments.map(\.rawValue).joined(separator: ",")))"
    }
}

/// A value passed to or returned by an exported function.
public enum FFIValue: Sendable, Equatable, CustomStringConvertible {
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    case string(String)
    case void

    public var type: FFIType {
        switch self {
        case .int64: .int64
        case .double: .double
        case .bool: .bool
        case .string: .string
        case .void: .void
        }
    }

    public var description: String {
        switch self {
        case .int64(let value): "\(value)"
        case .double(let value): "\(value)"
        case .bool(let value): "\(value)"
        case .string(let value): value
        case .void: "void"
        }
    }
}

/// Why a signature or a call was refused; `description` says it for the caller.
public enum FFIError: Error, Sendable, Equatable, CustomStringConvertible {
    case badSignature(String)
    case argumentCount(expected: Int, given: Int, signature: String)
    case argumentType(index: Int, expected: FFIType, given: FFIType, signature: String)
    /// libffi could not prepare the call (its status).
    case preparation(Int)

    public var description: String {
        switch self {
        case .badSignature(let why): "bad signature \(why)"
        case .argumentCount(let expected, let given, let signature):
            "\(signature) takes \(expected) argument\(expected == 1 ? "" : "s"), \(given) given"
        case .argumentType(let index, let expected, let given, let signature):
            "argument \(index + 1) of \(signature) must be \(expected.rawValue), \(given.rawValue) given"
        case .preparation(let status): "libffi could not prepare the call (ffi_prep_cif status \(status))"
        }
    }
}
