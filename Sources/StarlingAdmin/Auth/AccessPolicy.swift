import Foundation
import NIOCore

/// Who may call the API: a request carrying `Authorization: Basic base64(KEY:SECRET)` of an
/// existing key; while no key exists, also a request from a loopback address without one (so
/// that the first key can be created with `starling ctl apikey create`).
struct AccessPolicy: Sendable {
    let keys: APIKeyStore

    func check(_ request: AdminRequest) throws(APIError) {
        if let header = request.headers.first(name: "authorization") {
            guard let (key, secret) = Self.basicCredentials(header), keys.verify(key: key, secret: secret) else {
                throw .unauthorized("invalid API key or secret")
            }
            return
        }
        if keys.isEmpty {
            guard let peer = request.remoteAddress, Loopback.isLoopback(peer) else {
                throw .unauthorized("no API key exists yet: create one on the node's host with `starling ctl apikey create NAME`")
            }
            return
        }
        throw .unauthorized("an API key is required: HTTP Basic authentication with KEY:SECRET")
    }

    /// `KEY` and `SECRET` of a `Basic base64(KEY:SECRET)` header, or nil.
    static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
