/// Where a node is: its name (`name@host`) and the cluster port it accepts links on.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The node's name, `name@host`.
    public var name: String
    /// The host of the name, which links dial.
    public var host: String { String(name[name.index(after: name.firstIndex(of: "@")!)...]) }
    /// The node's cluster port.
    public var port: Int

    public init(name: String, port: Int) {
        self.name = name
        self.port = port
    }

    /// Parses `NAME@HOST` or `NAME@HOST:PORT` (an IPv6 host in brackets when a port follows:
    /// `n1@[::1]:4371`); the port defaults to `defaultPort`. Nil when malformed.
    public init?(parsing text: String, defaultPort: Int = ClusterConfig.defaultPort) {
        guard let at = text.firstIndex(of: "@") else { return nil }
        let short = text[..<at]
        var rest = text[text.index(after: at)...]
        var port = defaultPort
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = Int(after.dropFirst()) else { return nil }
                port = parsed
            }
            rest = rest[rest.index(after: rest.startIndex)..<close]
        } else if let colon = rest.lastIndex(of: ":"), rest.firstIndex(of: ":") == colon {
            guard let parsed = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = parsed
            rest = rest[..<colon]
        }
        guard (1...65_535).contains(port), PeerAddress.isValidShortName(short), !rest.isEmpty,
              rest.allSatisfy({ !$0.isWhitespace && $0 != "@" && $0 != "/" }) else { return nil }
        self.init(name: "\(short)@\(rest)", port: port)
    }

    /// `[A-Za-z0-9_-]+`, as node short names are.
    static func isValidShortName(_ name: Substring) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
        }
    }

    /// `name@host:port`.
    public var description: String { host.contains(":") ? "\(name.split(separator: "@")[0])@[\(host)]:\(port)" : "\(name):\(port)" }
}
