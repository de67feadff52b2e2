import StarlingAdmin
import StarlingFFI

/// Turns the JSON arguments of an API call into the values a function's signature declares,
/// and its result back into JSON. A value of the declared type is taken as it is; a string is
/// read as one (so `starling ctl plugins call` can pass every argument as text).
enum FunctionArguments {
    static func values(_ arguments: [JSONValue], for signature: FFISignature) throws(PluginControlError) -> [FFIValue] {
        guard arguments.count == signature.arguments.count else {
            throw PluginControlError(.refused, FFIError.argumentCount(expected: signature.arguments.count, given: arguments.count,
                                                                      signature: signature.description).description)
        }
        var values: [FFIValue] = []
        for (index, (argument, type)) in zip(arguments, signature.arguments).enumerated() {
            guard let value = value(argument, as: type) else {
                throw PluginControlError(.refused, "argument \(index + 1) of \(signature): expected \(type.rawValue), got \(describe(argument))")
            }
            values.append(value)
        }
        return values
    }

    static func json(_ value: FFIValue) -> JSONValue {
        switch value {
        case .int64(let number): .int(number)
        case .double(let number): .double(number)
        case .bool(let flag): .bool(flag)
        case .string(let text): .string(text)
        case .void: .null
        }
    }

    private static func value(_ argument: JSONValue, as type: FFIType) -> FFIValue? {
        switch (type, argument) {
        case (.int64, .int(let number)): return .int64(number)
        case (.int64, .string(let text)): return Int64(text).map { .int64($0) }
        case (.double, .double(let number)): return .double(number)
        case (.double, .int(let number)): return .double(Double(number))
        case (.double, .string(let text)): return Double(text).map { .double($0) }
        case (.bool, .bool(let flag)): return .bool(flag)
        case (.bool, .string("true")): return .bool(true)
        case (.bool, .string("false")): return .bool(false)
        case (.string, .string(let text)): return .string(text)
        default: return nil
        }
    }

    private static func describe(_ argument: JSONValue) -> String {
        switch argument {
        case .string(let text): "the string \"\(text)\""
        case .int(let number): "the number \(number)"
        case .double(let number): "the number \(number)"
        case .bool(let flag): "\(flag)"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
