/// The text of a Mosquitto password file: one `USER:HASH` line per user. Other lines (comments,
/// blank lines, lines without a colon) are kept as they are, so an edit changes only its user's line.
public struct PasswordFile: Equatable, Sendable {
    /// The file's lines, without their line ends.
    public private(set) var lines: [String]

    /// An empty file.
    public init() { lines = [] }

    /// Parses the text of a file (LF or CRLF line ends).
    public init(text: String) {
        // "\r\n" is one Character in Swift: both ends are separators.
        lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map(String.init)
        if lines.last == "" { lines.removeLast() }
    }

    /// The file's text, each line ended by "\n".
    public var text: String { lines.map { $0 + "\n" }.joined() }

    /// The users, in file order.
    public var users: [String] { lines.compactMap { Self.split($0)?.user } }

    /// The stored hash of `user`, or nil.
    public func hash(of user: String) -> String? {
        lines.lazy.compactMap(Self.split).first { $0.user == user }?.hash
    }

    /// Sets `user`'s hash: replaces its line, or appends one.
    public mutating func set(user: String, hash: String) {
        let line = "\(user):\(hash)"
        if let index = lines.firstIndex(where: { Self.split($0)?.user == user }) {
            lines[index] = line
        } else {
            lines.append(line)
        }
    }

    /// Removes `user`'s lines; false when there was none.
    public mutating func remove(user: String) -> Bool {
        let before = lines.count
        lines.removeAll { Self.split($0)?.user == user }
        return lines.count != before
    }

    /// True when `user` can be written to a file: not empty, no colon, no line break.
    public static func isValid(user: String) -> Bool {
        !user.isEmpty && !user.contains(":") && !user.contains("\n") && !user.contains("\r")
    }

    private static func split(_ line: String) -> (user: String, hash: String)? {
        guard !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]), String(line[line.index(after: colon)...]))
    }
}
