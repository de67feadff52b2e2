// One question for the HTTP server, copied out of the broker's event (whose memory is valid during
// the call only), and how it becomes a request and a cache key.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct Query: Sendable {
    enum Kind: Sendable { case authenticate, publish, subscribe }

    var kind: Kind
    /// The request's fields, in the order they are sent (JSON object keys or query items).
    var fields: [(name: String, value: Field)]

    enum Field: Sendable {
        case text(String)
        case number(Int)
        case flag(Bool)

        var json: Any {
            switch self {
            case .text(let text): text
            case .number(let number): number
            case .flag(let flag): flag
            }
        }

        var text: String {
            switch self {
            case .text(let text): text
            case .number(let number): String(number)
            case .flag(let flag): flag ? "true" : "false"
            }
        }
    }

    /// The cache key: every field (the password included, so a wrong one never rides on a right one).
    var cacheKey: String {
        var key = "\(kind)"
        for (name, value) in fields {
            key += "\u{1}\(name)\u{2}\(value.text)"
        }
        return key
    }

    /// The request to `url`: a JSON object for POST, query parameters for GET.
    func request(to url: URL, method: AuthHTTPOptions.Method, headers: [(name: String, value: String)]) -> URLRequest? {
        var request: URLRequest
        switch method {
        case .post:
            request = URLRequest(url: url)
            var object: [String: Any] = [:]
            for (name, value) in fields { object[name] = value.json }
            guard let body = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        case .get:
            guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return nil }
            components.queryItems = (components.queryItems ?? []) + fields.map { URLQueryItem(name: $0.name, value: $0.value.text) }
            guard let withQuery = components.url else { return nil }
            request = URLRequest(url: withQuery)
        }
        request.httpMethod = method.rawValue
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        return request
    }
}

extension Query {
    /// The host part of the broker's "IP:PORT" / "[IPv6]:PORT" peer address ("" stays "").
    static func peerHost(_ address: String) -> String {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }

    /// A string the broker passed as pointer + length (nil pointer: absent).
    static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
        guard let pointer else { return nil }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// Binary bytes as text, as EMQX sends a password (invalid UTF-8 is replaced, consistently).
    static func text(_ bytes: UnsafePointer<UInt8>?, _ length: Int) -> String? {
        guard let bytes else { return nil }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
}
