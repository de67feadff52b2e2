/// Reads the fields of a JSON object from a request body, each checked for its type and range;
/// an error names the field by its path (`properties.content_type`, `[3].topic`).
public struct JSONFields: Sendable {
    public let values: [String: JSONValue]
    /// The path of this object in the body, "" at the top.
    public let path: String

    /// `value` as an object, or a 400 naming `path`.
    public init(_ value: JSONValue, path: String = "") throws(APIError) {
        guard case .object(let values) = value else {
            throw path.isEmpty ? .badRequest("the body must be a JSON object, not \(value.typeName)")
                               : .badParameter(path, "expected an object, got \(value.typeName)")
        }
        self.values = values
        self.path = path
    }

    /// The full name of field `key`, as errors say it.
    public func name(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Refuses any field not in `known`, naming the first unknown ones.
    public func rejectUnknown(_ known: Set<String>) throws(APIError) {
        let unknown = values.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw .badParameter(name(unknown[0]), "unknown field" + (unknown.count > 1 ? " (also: \(unknown.dropFirst().joined(separator: ", ")))" : "")
                + "; known fields: \(known.sorted().joined(separator: ", "))")
        }
    }

    /// A string field; nil when absent (or null).
    public func string(_ key: String) throws(APIError) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw .badParameter(name(key), "expected a string, got \(other.typeName)")
        }
    }

    /// A string field that must be there.
    public func requiredString(_ key: String) throws(APIError) -> String {
        guard let value = try string(key) else { throw .badParameter(name(key), "required") }
        return value
    }

    /// An integer field within `range`; nil when absent.
    public func int(_ key: String, in range: ClosedRange<Int64>) throws(APIError) -> Int64? {
        switch values[key] {
        case nil, .null?: return nil
        case .int(let value)? where range.contains(value): return value
        case .double(let value)? where value.rounded() == value && value >= Double(range.lowerBound)
                                       && value <= Double(range.upperBound):
            return Int64(value)
        case let other?:
            let shown: String = switch other {
            case .int(let value): "\(value)"
            case .double(let value): "\(value)"
            default: other.typeName
            }
            throw .badParameter(name(key), "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(shown)")
        }
    }

    /// A boolean field; nil when absent.
    public func bool(_ key: String) throws(APIError) -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        case let other?: throw .badParameter(name(key), "expected true or false, got \(other.typeName)")
        }
    }

    /// An object field; nil when absent.
    public func object(_ key: String) throws(APIError) -> JSONFields? {
        switch values[key] {
        case nil, .null?: return nil
        case let value?: return try JSONFields(value, path: name(key))
        }
    }
}
