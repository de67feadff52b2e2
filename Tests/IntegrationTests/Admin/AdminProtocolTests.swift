import NIOHTTP1
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// HTTP behaviour: errors as JSON naming the bad parameter, 404, 405, 413, keep-alive, bodies.
final class AdminProtocolTests: AdminTestCase, @unchecked Sendable {
    func testBadParametersNameThemselves() async throws {
        let cases: [(String, String)] = [
            ("/api/v1/clients?limit=0", "limit: expected an integer from 1 to 10000, got '0'"),
            ("/api/v1/clients?limit=10001", "limit:"),
            ("/api/v1/clients?page=0", "page: expected an integer of at least 1"),
            ("/api/v1/clients?page=x", "page:"),
            ("/api/v1/clients?connected=yes", "connected: expected true or false"),
            ("/api/v1/clients?proto_ver=4", "proto_ver: expected one of 3.1, 3.1.1, 5.0"),
            ("/api/v1/clients?colour=red", "colour: unknown query parameter"),
            ("/api/v1/subscriptions?client=x", "client: unknown query parameter"),
            ("/api/v1/routes?limit=1&limit=2", "limit: given more than once"),
            ("/api/v1/status?verbose=1", "verbose: unknown query parameter; this route takes no query parameters"),
        ]
        for (target, prefix) in cases {
            assertError(try await request(.GET, target), .badRequest, code: "BAD_REQUEST", messageStartsWith: prefix)
        }
        let bodies: [(String, String)] = [
            (#"{"payload": "x"}"#, "topic: required"),
            (#"{"topic": "a", "qos": 3}"#, "qos: expected an integer from 0 to 2, got 3"),
            (#"{"topic": "a", "qos": "1"}"#, "qos: expected an integer from 0 to 2, got a string"),
            (#"{"topic": "a", "retain": 1}"#, "retain: expected true or false"),
            (#"{"topic": "a", "payload_encoding": "hex"}"#, "payload_encoding: expected plain or base64"),
            (#"{"topic": "a", "payload": "***", "payload_encoding": "base64"}"#, "payload: not valid base64"),
            (#"{"topic": "a", "colour": "red"}"#, "colour: unknown field"),
            (#"{"topic": "a", "properties": {"content_type": 5}}"#, "properties.content_type: expected a string"),
            (#"{"topic": "a", "properties": {"user_properties": {"k": 1}}}"#, "properties.user_properties.k: expected a string"),
            (#"{"topic": "a", "properties": {"message_expiry_interval": -1}}"#, "properties.message_expiry_interval:"),
            (#"{"topic": "a", "properties": {"expiry": 1}}"#, "properties.expiry: unknown field"),
            (#"{"topic": "$private"}"#, "topic: invalid topic"),
            (#"[1]"#, "the body must be a JSON object"),
            (##"{"topic": "#,}"##, "the body is not valid JSON"),
        ]
        for (body, prefix) in bodies {
            assertError(try await request(.POST, "/api/v1/publish", json: body), .badRequest, messageStartsWith: prefix)
        }
        assertError(try await request(.POST, "/api/v1/publish"), .badRequest, messageStartsWith: "the request needs a JSON body")
    }

    func testNotFoundAndMethodNotAllowed() async throws {
        for target in ["/api/v1/nothing", "/api/v2/status", "/", "/api/v1/clients/a/b", "/api/v1/api_keys/x/y"] {
            assertError(try await request(.GET, target), .notFound, code: "NOT_FOUND", messageStartsWith: "no route GET")
        }
        assertError(try await request(.GET, "/api/v1/clients/ghost"), .notFound, messageStartsWith: "no client 'ghost'")
        assertError(try await request(.GET, "/api/v1/retained/no%2Fsuch"), .notFound, messageStartsWith: "no retained message on 'no/such'")
        assertError(try await request(.DELETE, "/api/v1/api_keys/ghost"), .notFound, messageStartsWith: "no API key 'ghost'")

        let wrongMethod = try await request(.PUT, "/api/v1/status")
        assertError(wrongMethod, .methodNotAllowed, code: "METHOD_NOT_ALLOWED")
        XCTAssertEqual(wrongMethod.headers.first(name: "allow"), "GET")
        let post = try await request(.POST, "/api/v1/clients/x")
        XCTAssertEqual(post.headers.first(name: "allow"), "GET, DELETE")
        // A trailing slash is the same route.
        let trailingSlash = try await request(.GET, "/api/v1/status/")
        XCTAssertEqual(trailingSlash.status, .ok)
    }

    func testBodyOverOneMebibyteIs413() async throws {
        let big = "{\"topic\": \"t\", \"payload\": \"" + String(repeating: "x", count: 1 << 20) + "\"}"
        assertError(try await request(.POST, "/api/v1/publish", json: big), .payloadTooLarge, code: "PAYLOAD_TOO_LARGE",
                    messageStartsWith: "the request body is larger than 1048576 bytes")

        // Chunked: refused once the chunks pass the limit; the connection is closed after the answer.
        let raw = try await RawHTTPConnection.connect(port: try api().port)
        try await raw.send("POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = String(repeating: "y", count: 64 * 1024)
        for _ in 0..<17 {
            try await raw.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
        }
        try await waitUntil("the 413 answer") { raw.text.contains("PAYLOAD_TOO_LARGE") }
        XCTAssertFalse(raw.isClosed, "the rest of the body is read before the close")
        try await raw.send("0\r\n\r\n")
        try await waitUntil("the connection closed") { raw.isClosed }
        XCTAssertTrue(raw.text.hasPrefix("HTTP/1.1 413 Payload Too Large"), raw.text)
        XCTAssertTrue(raw.text.contains(#""code":"PAYLOAD_TOO_LARGE""#), raw.text)
        await raw.close()

        // Just under the limit is fine.
        let fits = "{\"topic\": \"t\", \"payload\": \"" + String(repeating: "x", count: (1 << 20) - 40) + "\"}"
        let fitting = try await request(.POST, "/api/v1/publish", json: fits)
        XCTAssertEqual(fitting.status, .ok)
    }

    func testKeepAliveServesPipelinedRequestsInOrder() async throws {
        let raw = try await RawHTTPConnection.connect(port: try api().port)
        try await raw.send("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                           + "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try await waitUntil("three answers and a close") { raw.isClosed }
        // A body has no line end of its own: the next status line follows it directly.
        let statuses = raw.text.matches(of: /HTTP\/1\.1 \d{3} [A-Za-z ]+\r\n/).map { raw.text[$0.range].trimmingCharacters(in: .newlines) }
        XCTAssertEqual(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"], raw.text)
        XCTAssertTrue(raw.text.contains(#""status":"running""#))
        XCTAssertTrue(raw.text.contains(#""connections":{"current""#))
        await raw.close()
    }
}
