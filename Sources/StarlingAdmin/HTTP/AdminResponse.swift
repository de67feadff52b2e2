import Foundation
import NIOCore
import NIOHTTP1

/// An HTTP response of the API.
public struct AdminResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// `value` as JSON (snake_case keys).
    public static func json<Value: Encodable>(_ value: Value, status: HTTPResponseStatus = .ok) -> AdminResponse {
        do {
            let body = Array(try JSONCoding.encoder.encode(value))
            return AdminResponse(status: status, headers: ["Content-Type": "application/json"], body: body)
        } catch {
            return .error(APIError(.internalServerError, code: "INTERNAL_ERROR", "cannot encode the response: \(error)"))
        }
    }

    /// Plain text, e.g. a metrics exposition.
    public static func text(_ text: String, contentType: String = "text/plain; charset=utf-8",
                            status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, headers: ["Content-Type": contentType], body: Array(text.utf8))
    }

    /// 204, no body.
    public static let noContent = AdminResponse(status: .noContent)

    /// `{"code": …, "message": …}` with the error's status.
    public static func error(_ error: APIError) -> AdminResponse {
        var response = AdminResponse.json(ErrorBody(code: error.code, message: error.message), status: error.status)
        if error.status == .unauthorized {
            response.headers.add(name: "WWW-Authenticate", value: #"Basic realm="starling""#)
        }
        return response
    }
}

/// The body of every error answer.
struct ErrorBody: Codable, Sendable {
    var code: String
    var message: String
}
