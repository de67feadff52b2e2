import NIOHTTP1

/// A request the API refuses: an HTTP status, a stable code for scripts and a message for people.
/// Handlers throw it; the server answers `{"code": CODE, "message": MESSAGE}` with `status`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponseStatus
    /// Upper-case, stable: `BAD_REQUEST`, `NOT_FOUND`, `UNAUTHORIZED` …
    public var code: String
    public var message: String

    public init(_ status: HTTPResponseStatus, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// 400 for a query parameter or body field: the message starts with its name.
    public static func badParameter(_ name: String, _ problem: String) -> APIError {
        APIError(.badRequest, code: "BAD_REQUEST", "\(name): \(problem)")
    }

    public static func badRequest(_ message: String) -> APIError {
        APIError(.badRequest, code: "BAD_REQUEST", message)
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(.notFound, code: "NOT_FOUND", message)
    }

    public static func conflict(_ message: String) -> APIError {
        APIError(.conflict, code: "CONFLICT", message)
    }

    public static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, code: "UNAUTHORIZED", message)
    }
}
