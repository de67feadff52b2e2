import Foundation

/// The query parameters of a request (`?page=2&limit=50`), percent-decoded. `+` stays a plus
/// sign (topic filters use it), so a space is sent as `%20`.
public struct QueryParameters: Sendable, Equatable {
    private var values: [String: String] = [:]

    public init() {}

    /// Parses `query` (without the `?`); a name given twice or a bad percent-encoding is a 400.
    public init(parsing query: Substring) throws(APIError) {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(parts[0], what: "query parameter name")
            let value = parts.count > 1 ? try Self.decode(parts[1], what: "the value of \(name)") : ""
            guard values.updateValue(value, forKey: name) == nil else {
                throw .badParameter(name, "given more than once")
            }
        }
    }

    /// The names present.
    public var names: [String] { values.keys.sorted() }

    /// The raw value of `name`, or nil.
    public subscript(name: String) -> String? { values[name] }

    /// Refuses any parameter not in `known`, naming it.
    public func rejectUnknown(_ known: [String]) throws(APIError) {
        guard let unknown = names.first(where: { !known.contains($0) }) else { return }
        let list = known.isEmpty ? "this route takes no query parameters" : "known parameters: " + known.joined(separator: ", ")
        throw .badParameter(unknown, "unknown query parameter; \(list)")
    }

    /// An integer within `range`, or `defaultValue` when absent.
    public func int(_ name: String, in range: ClosedRange<Int>, default defaultValue: Int) throws(APIError) -> Int {
        guard let text = values[name] else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            let bound = range.upperBound == .max ? "of at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw .badParameter(name, "expected an integer \(bound), got '\(text)'")
        }
        return value
    }

    /// `true` or `false`, or nil when absent.
    public func bool(_ name: String) throws(APIError) -> Bool? {
        guard let text = values[name] else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw .badParameter(name, "expected true or false, got '\(text)'")
        }
    }

    /// One of `choices`, or nil when absent.
    public func choice(_ name: String, _ choices: [String]) throws(APIError) -> String? {
        guard let text = values[name] else { return nil }
        guard choices.contains(text) else {
            throw .badParameter(name, "expected one of \(choices.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }

    static func decode(_ text: Substring, what: String) throws(APIError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw .badRequest("\(what): invalid percent-encoding in '\(text)'")
        }
        return decoded
    }
}
