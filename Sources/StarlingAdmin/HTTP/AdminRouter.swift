import NIOHTTP1

/// What a route runs: the request in, the response out. A thrown `APIError` becomes its JSON
/// answer; any other error a 500.
public typealias AdminHandler = @Sendable (AdminRequest) async throws -> AdminResponse

/// One route of the API: a method and a path pattern such as `/api/v1/clients/{clientid}`.
/// A segment `{name}` matches one path segment (percent-decoded, so `a%2Fb` gives `a/b`); a last
/// segment `{name*}` matches the rest of the path, its segments joined with `/`.
public struct AdminRoute: Sendable {
    public let method: HTTPMethod
    public let path: String
    public let handler: AdminHandler
    let segments: [Segment]

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    public init(_ method: HTTPMethod, _ path: String, handler: @escaping AdminHandler) {
        self.method = method
        self.path = path
        self.handler = handler
        self.segments = path.split(separator: "/").map { part in
            guard part.hasPrefix("{"), part.hasSuffix("}") else { return .literal(String(part)) }
            let name = part.dropFirst().dropLast()
            return name.hasSuffix("*") ? .rest(String(name.dropLast())) : .parameter(String(name))
        }
    }

    /// The path parameters when `path` (decoded segments) matches, else nil.
    func match(_ path: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .rest(let name):
                guard index < path.count else { return nil }
                parameters[name] = path[index...].joined(separator: "/")
                return parameters
            case .literal(let text):
                guard index < path.count, path[index] == text else { return nil }
            case .parameter(let name):
                guard index < path.count, !path[index].isEmpty else { return nil }
                parameters[name] = path[index]
            }
        }
        return path.count == segments.count ? parameters : nil
    }
}

/// Finds the route of a request: 404 when no route has its path, 405 (with `Allow`) when routes
/// have the path but not the method.
struct AdminRouter: Sendable {
    private let routes: [AdminRoute]

    /// Routes are tried in order; the first match wins.
    init(routes: [AdminRoute]) {
        self.routes = routes
    }

    func route(_ request: AdminRequest) async -> AdminResponse {
        var request = request
        do {
            let segments = try Self.segments(of: request.path)
            var allowed: [HTTPMethod] = []
            for route in routes {
                guard let parameters = route.match(segments) else { continue }
                guard route.method == request.method else {
                    allowed.append(route.method)
                    continue
                }
                request.pathParameters = parameters
                return try await route.handler(request)
            }
            if allowed.isEmpty { throw APIError.notFound("no route \(request.method) \(request.path)") }
            var response = AdminResponse.error(APIError(.methodNotAllowed, code: "METHOD_NOT_ALLOWED",
                "\(request.method) is not allowed on \(request.path); allowed: \(allowed.map { "\($0)" }.joined(separator: ", "))"))
            response.headers.add(name: "Allow", value: allowed.map { "\($0)" }.joined(separator: ", "))
            return response
        } catch let error as APIError {
            return .error(error)
        } catch {
            return .error(APIError(.internalServerError, code: "INTERNAL_ERROR", "\(error)"))
        }
    }

    /// The decoded segments of `path` ("/api/v1/x" → ["api", "v1", "x"]); a trailing `/` is ignored.
    static func segments(of path: String) throws(APIError) -> [String] {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if parts.count > 1, parts.last == "" { parts = parts.dropLast() }
        var decoded: [String] = []
        for part in parts { decoded.append(try QueryParameters.decode(part, what: "path segment")) }
        return decoded
    }
}
