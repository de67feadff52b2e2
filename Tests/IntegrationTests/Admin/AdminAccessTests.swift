import Foundation
import NIOHTTP1
import StarlingAdmin
import XCTest

/// API keys: loopback without a key while none exists, then a key on every request; secrets
/// stored hashed and shown once.
final class AdminAccessTests: AdminTestCase, @unchecked Sendable {
    func testKeysCreateListDeleteAndEnforce() async throws {
        let open = try await request(.GET, "/api/v1/status")
        XCTAssertEqual(open.status, .ok, "loopback needs no key while none exists")

        let created = try await request(.POST, "/api/v1/api_keys", json: #"{"name": "ops"}"#)
        XCTAssertEqual(created.status, .created, created.text)
        let key = try XCTUnwrap(created.json?["key"]?.string), secret = try XCTUnwrap(created.json?["secret"]?.string)
        XCTAssertEqual(created.json?["name"]?.string, "ops")
        XCTAssertFalse(key.contains(":"))

        let missing = try await request(.GET, "/api/v1/status")
        assertError(missing, .unauthorized, code: "UNAUTHORIZED", messageStartsWith: "an API key is required")
        XCTAssertEqual(missing.headers.first(name: "www-authenticate"), #"Basic realm="starling""#)
        assertError(try await request(.GET, "/api/v1/status", credentials: (key, "wrong")), .unauthorized,
                    messageStartsWith: "invalid API key or secret")
        assertError(try await request(.GET, "/api/v1/status", credentials: ("nokey", secret)), .unauthorized)
        // Unauthenticated callers learn nothing about routes.
        assertError(try await request(.GET, "/api/v1/nothing"), .unauthorized)
        let withKey = try await request(.GET, "/api/v1/status", credentials: (key, secret))
        XCTAssertEqual(withKey.status, .ok)

        let second = try await request(.POST, "/api/v1/api_keys", json: #"{"name": "ci"}"#, credentials: (key, secret))
        XCTAssertEqual(second.status, .created)
        assertError(try await request(.POST, "/api/v1/api_keys", json: #"{"name": "ci"}"#, credentials: (key, secret)),
                    .conflict, code: "CONFLICT")
        assertError(try await request(.POST, "/api/v1/api_keys", json: #"{"name": "a b"}"#, credentials: (key, secret)),
                    .badRequest, messageStartsWith: "name: expected 1 to 64 letters")

        let list = try await request(.GET, "/api/v1/api_keys", credentials: (key, secret))
        XCTAssertEqual(list.json?.items.compactMap { $0["name"]?.string }, ["ci", "ops"])
        XCTAssertNotNil(list.json?.items.first?["created_at"]?.string)
        XCTAssertFalse(list.text.contains(secret), "a listing never shows a secret")

        // The file holds a salted hash, never the secret.
        let file = directory.appendingPathComponent("data/api_keys.json")
        let stored = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(stored.contains(key))
        XCTAssertFalse(stored.contains(secret))
        XCTAssertTrue(stored.contains("secret_sha256"))
        let permissions = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        XCTAssertEqual(permissions, 0o600)

        let deleteCI = try await request(.DELETE, "/api/v1/api_keys/ci", credentials: (key, secret))
        XCTAssertEqual(deleteCI.status, .noContent)
        let deleteOps = try await request(.DELETE, "/api/v1/api_keys/ops", credentials: (key, secret))
        XCTAssertEqual(deleteOps.status, .noContent)
        let reopened = try await request(.GET, "/api/v1/status")
        XCTAssertEqual(reopened.status, .ok, "no key left: loopback is open again")
    }

    func testKeysSurviveARestart() async throws {
        let created = try await request(.POST, "/api/v1/api_keys", json: #"{"name": "keep"}"#)
        let key = try XCTUnwrap(created.json?["key"]?.string), secret = try XCTUnwrap(created.json?["secret"]?.string)
        let store = try APIKeyStore(directory: directory.appendingPathComponent("data").path)
        XCTAssertTrue(store.verify(key: key, secret: secret))
        XCTAssertFalse(store.verify(key: key, secret: secret + "x"))
        XCTAssertEqual(store.list().map(\.name), ["keep"])
    }
}
