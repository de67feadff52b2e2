// auth-http's options, read once in init. Every option is documented in README.md.
import Foundation

/// What the configuration asks of auth-http; `parse` checks every value and names the bad one.
struct AuthHTTPOptions {
    enum Method: String { case post = "POST", get = "GET" }

    /// Asked on authenticate (CONNECT); nil: the plugin does not authenticate.
    var authURL: URL?
    /// Asked on authorize publish and subscribe; nil: the plugin does not authorize.
    var aclURL: URL?
    var method: Method = .post
    /// How long one HTTP exchange may take, in milliseconds.
    var timeoutMilliseconds = 3000
    /// What a failed exchange (timeout, refused connection, unexpected status or body) answers.
    var onError = Decision.deny
    /// How long a server's answer is reused, in milliseconds; 0 turns the cache off.
    var cacheTTLMilliseconds = 60_000
    /// The most answers the cache holds; the oldest go first.
    var cacheMaxSize = 10_000
    /// Extra request headers, from the `header.NAME` options.
    var headers: [(name: String, value: String)] = []
    /// The priority of the plugin's callbacks in the hook chains.
    var priority: Int32 = 0

    /// Reads `options` (key, value); throws a message naming the option at fault.
    static func parse(_ options: [(key: String, value: String)]) throws(OptionError) -> AuthHTTPOptions {
        var parsed = AuthHTTPOptions()
        for (key, value) in options {
            switch key {
            case "url", "auth_url": parsed.authURL = try url(key, value)
            case "acl_url": parsed.aclURL = try url(key, value)
            case "method":
                guard let method = Method(rawValue: value.uppercased()) else {
                    throw OptionError("method must be POST or GET, not '\(value)'")
                }
                parsed.method = method
            case "timeout": parsed.timeoutMilliseconds = try integer(key, value, in: 1...600_000)
            case "on_error":
                switch value {
                case "deny": parsed.onError = .deny
                case "ignore": parsed.onError = .ignore
                default: throw OptionError("on_error must be deny or ignore, not '\(value)'")
                }
            case "cache_ttl": parsed.cacheTTLMilliseconds = try integer(key, value, in: 0...86_400_000)
            case "cache_max_size": parsed.cacheMaxSize = try integer(key, value, in: 1...10_000_000)
            case "priority": parsed.priority = Int32(try integer(key, value, in: Int(Int32.min)...Int(Int32.max)))
            case _ where key.hasPrefix("header."):
                let name = String(key.dropFirst("header.".count))
                guard !name.isEmpty, !value.contains(where: \.isNewline) else {
                    throw OptionError("\(key) needs a header name and a value on one line")
                }
                parsed.headers.append((name, value))
            default: throw OptionError("unknown option '\(key)'")
            }
        }
        guard parsed.authURL != nil || parsed.aclURL != nil else {
            throw OptionError("set url (authentication) or acl_url (authorization), or both")
        }
        return parsed
    }

    private static func url(_ key: String, _ value: String) throws(OptionError) -> URL {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil else {
            throw OptionError("\(key) must be an http:// or https:// URL, not '\(value)'")
        }
        return url
    }

    private static func integer(_ key: String, _ value: String, in range: ClosedRange<Int>) throws(OptionError) -> Int {
        guard let number = Int(value), range.contains(number) else {
            throw OptionError("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound), not '\(value)'")
        }
        return number
    }
}

struct OptionError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
