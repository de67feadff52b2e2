import NIOCore
import NIOHTTP1

/// One HTTP request to the API, its body read in full.
public struct AdminRequest: Sendable {
    public var method: HTTPMethod
    /// The path as sent, without the query (still percent-encoded).
    public var path: String
    public var query: QueryParameters
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    /// The peer's address, when the socket knows it.
    public var remoteAddress: SocketAddress?
    /// The values of the route's `{name}` segments, percent-decoded.
    public var pathParameters: [String: String] = [:]
    /// The request's HTTP version, which the answer repeats.
    public var version: HTTPVersion = .http1_1
    /// Whether the connection stays open after the answer.
    public var keepAlive = true

    public init(method: HTTPMethod, path: String, query: QueryParameters, headers: HTTPHeaders, body: ByteBuffer,
                remoteAddress: SocketAddress?) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// Splits a request target (`/a/b?x=1`) into its path and its query parameters.
    static func split(target: String) throws(APIError) -> (path: String, query: QueryParameters) {
        guard let mark = target.firstIndex(of: "?") else { return (target, QueryParameters()) }
        return (String(target[..<mark]), try QueryParameters(parsing: target[target.index(after: mark)...]))
    }

    /// The value of path parameter `name` (the route guarantees it is there).
    public func parameter(_ name: String) -> String {
        pathParameters[name] ?? ""
    }
}
