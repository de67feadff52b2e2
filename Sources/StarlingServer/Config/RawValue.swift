import NIOCore
import StarlingCluster

/// A setting's value as it came from the TOML file, an environment variable or a flag, before
/// its key's type parses it.
enum RawValue: Sendable, Equatable {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    /// From an environment variable or a flag: parsed according to the key's type.
    case text(String)
    /// A TOML array whose elements are all strings.
    case strings([String])
    /// A TOML table, other array, date or time, named by its type: never a valid value.
    case other(String)

    /// The value as it is quoted in an error message.
    var display: String {
        switch self {
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .bool(let value): "\(value)"
        case .string(let value), .text(let value): tomlQuoted(value)
        case .strings(let values): "[" + values.map(tomlQuoted).joined(separator: ", ") + "]"
        case .other(let type): "<\(type)>"
        }
    }

    var integer: Int? {
        switch self {
        case .int(let value): value
        case .text(let text): Int(text.trimmingSpaces)
        default: nil
        }
    }

    var boolean: Bool? {
        switch self {
        case .bool(let value): value
        case .text(let text):
            switch text.trimmingSpaces.lowercased() {
            case "true", "1": true
            case "false", "0": false
            default: nil
            }
        default: nil
        }
    }

    var number: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        case .text(let text): Double(text.trimmingSpaces)
        default: nil
        }
    }

    var string: String? {
        switch self {
        case .string(let value), .text(let value): value
        default: nil
        }
    }

    /// A list of strings: a TOML array of strings, or (from a variable or flag) comma-separated text.
    var stringList: [String]? {
        switch self {
        case .strings(let values): values
        case .text(let text): text.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        default: nil
        }
    }

    /// Milliseconds: an integer of seconds, or a string such as "500ms", "3s", "1m".
    var milliseconds: Int? {
        if let seconds = integer { return seconds.multipliedReportingOverflow(by: 1000).overflow ? nil : seconds * 1000 }
        return string.flatMap { parseQuantity($0, units: millisecondUnits) }
    }

    /// Bytes: an integer, or a string such as "512B", "64KB", "1MB", "2GB" (units of 1024).
    var bytes: Int? { integer ?? string.flatMap { parseQuantity($0, units: byteUnits) } }

    /// Seconds: an integer, or a string such as "45s", "30m", "2h", "7d".
    var seconds: Int? { integer ?? string.flatMap { parseQuantity($0, units: durationUnits) } }
}

private let byteUnits: [String: Int] = [
    "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
]
private let millisecondUnits: [String: Int] = ["ms": 1, "s": 1000, "m": 60_000]
private let durationUnits: [String: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]

/// Parses `<digits><unit>` (spaces allowed between, unit case-insensitive); nil on any other form
/// or on overflow.
private func parseQuantity(_ text: String, units: [String: Int]) -> Int? {
    let trimmed = text.trimmingSpaces
    let digits = trimmed.prefix(while: \.isASCIIDigit)
    let unit = trimmed.dropFirst(digits.count).trimmingSpaces.lowercased()
    guard !digits.isEmpty, let count = Int(digits), let scale = unit.isEmpty ? 1 : units[unit] else {
        return nil
    }
    let (product, overflow) = count.multipliedReportingOverflow(by: scale)
    return overflow ? nil : product
}

/// A TOML basic string literal for `text`.
func tomlQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

// MARK: - Validation of names and addresses

/// A listener or node short name: `[A-Za-z0-9_-]+`.
func isValidName(_ name: Substring) -> Bool {
    !name.isEmpty && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.isDigit || $0 == "_" || $0 == "-") }
}

/// An IPv4 or IPv6 literal, or a host name (`localhost`, `broker.example.com`).
func isValidHost(_ host: Substring) -> Bool {
    if (try? SocketAddress(ipAddress: String(host), port: 0)) != nil { return true }
    guard !host.isEmpty, host.utf8.count <= 253 else { return false }
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    // All-numeric dotted names are malformed IPv4 addresses, not host names.
    if labels.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }) { return false }
    return labels.allSatisfy { label in
        (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
            && label.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.isDigit || $0 == "-") }
    }
}

/// `name@host`, with `name` as in ``isValidName(_:)`` and `host` as in ``isValidHost(_:)``.
func isValidNodeName(_ text: String) -> Bool {
    let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
    return parts.count == 2 && isValidName(parts[0]) && isValidHost(parts[1])
}

extension Unicode.Scalar {
    fileprivate var isDigit: Bool { ("0"..."9").contains(self) }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

/// A cluster cookie: 1 to 255 bytes, no spaces at its ends (they are too easily lost in a file).
func isValidCookie(_ text: String) -> Bool {
    (1...255).contains(text.utf8.count) && text.trimmingSpaces == text
}

/// A seed: `NAME@HOST` or `NAME@HOST:PORT` with a valid name and host.
func isValidSeed(_ text: String) -> Bool {
    guard let address = PeerAddress(parsing: text) else { return false }
    return isValidNodeName(address.name)
}
