import StarlingAdmin

/// Reading the API's answers for tables.
extension JSONValue {
    func field(_ name: String) -> JSONValue? {
        if case .object(let fields) = self { fields[name] } else { nil }
    }

    var arrayValue: [JSONValue]? { if case .array(let items) = self { items } else { nil } }
    var intValue: Int? { if case .int(let value) = self { Int(value) } else { nil } }

    /// The value as a table cell: text as is, null as "-".
    var cell: String {
        switch self {
        case .null: "-"
        case .bool(let value): value ? "yes" : "no"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): value
        case .array(let items): items.map(\.cell).joined(separator: ",")
        case .object: "{…}"
        }
    }

    /// The cell of field `name` ("-" when absent).
    subscript(cell name: String) -> String { field(name)?.cell ?? "-" }
}
