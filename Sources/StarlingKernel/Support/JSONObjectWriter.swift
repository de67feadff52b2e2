/// A small JSON object, written field by field in the order given (for event payloads; no
/// Foundation in the kernel).
struct JSONObjectWriter {
    private var text = "{"

    /// A string field; nil writes `null`.
    mutating func add(_ key: String, _ value: String?) {
        field(key, value.map(Self.quoted) ?? "null")
    }

    mutating func add(_ key: String, _ value: Int64) { field(key, String(value)) }

    mutating func add(_ key: String, _ value: Int) { field(key, String(value)) }

    mutating func add(_ key: String, _ value: Bool) { field(key, value ? "true" : "false") }

    /// The object's text, closed.
    var json: String { text + "}" }

    private mutating func field(_ key: String, _ rendered: String) {
        if text.utf8.count > 1 { text += "," }
        text += Self.quoted(key)
        text += ":"
        text += rendered
    }

    /// `value` as a JSON string literal, quotes, backslashes and control characters escaped.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
