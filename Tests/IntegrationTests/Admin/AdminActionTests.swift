import MQTTClient
import MQTTCore
import NIOCore
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// The endpoints that act: kick, publish (single and batch), retained messages.
final class AdminActionTests: AdminTestCase, @unchecked Sendable {
    func testKickSendsDisconnect0x98AndEndsTheSession() async throws {
        let client = try await connect("kick-me", sessionExpiry: 600)
        let response = try await request(.DELETE, "/api/v1/clients/kick-me")
        XCTAssertEqual(response.status, .noContent, response.text)
        XCTAssertTrue(response.body.isEmpty)
        let disconnect = try await client.packets.first { $0.disconnect }
        XCTAssertEqual(disconnect.reasonCode, .administrativeAction)
        try await waitForConnections(0)
        assertError(try await request(.GET, "/api/v1/clients/kick-me"), .notFound, messageStartsWith: "no client")
        assertError(try await request(.DELETE, "/api/v1/clients/kick-me"), .notFound)
    }

    func testPublishReachesASubscriberWithProperties() async throws {
        let subscriber = try await connect("http-sub")
        try await subscriber.subscribe("http/#", qos: .exactlyOnce)
        let response = try await request(.POST, "/api/v1/publish", json: """
            {"topic": "http/one", "payload": "hello", "qos": 1,
             "properties": {"user_properties": {"origin": "api"}, "content_type": "text/plain",
                            "message_expiry_interval": 60, "payload_format_indicator": 1,
                            "response_topic": "http/reply", "correlation_data": "c-1"}}
            """)
        XCTAssertEqual(response.status, .ok, response.text)
        XCTAssertEqual(response.json?["matched"]?.int, 1)
        let received = try await subscriber.messages.wait(for: 1)
        let message = try XCTUnwrap(received.first)
        XCTAssertEqual(message.topic, "http/one")
        XCTAssertEqual(message.text, "hello")
        XCTAssertEqual(message.qos, .atLeastOnce)
        XCTAssertEqual(message.properties.contentType, "text/plain")
        XCTAssertEqual(message.properties.payloadFormatIndicator, 1)
        XCTAssertEqual(message.properties.responseTopic, "http/reply")
        XCTAssertEqual(message.properties.correlationData.map { String(buffer: $0) }, "c-1")
        XCTAssertEqual(message.properties.userProperties.map { "\($0.0)=\($0.1)" }, ["origin=api"])
        XCTAssertNotNil(message.properties.messageExpiryInterval)

        let binary = try await request(.POST, "/api/v1/publish",
                                       json: #"{"topic": "http/two", "payload": "AAEC/w==", "payload_encoding": "base64"}"#)
        XCTAssertEqual(binary.json?["matched"]?.int, 1)
        let second = try await subscriber.messages.wait(for: 2)[1]
        XCTAssertEqual(Array(second.payload.readableBytesView), [0, 1, 2, 255])
        XCTAssertEqual(second.qos, .atMostOnce)

        let nobody = try await request(.POST, "/api/v1/publish", json: #"{"topic": "elsewhere"}"#)
        XCTAssertEqual(nobody.json?["matched"]?.int, 0)
    }

    func testPublishBatch() async throws {
        let subscriber = try await connect("batch-sub")
        try await subscriber.subscribe("batch/#")
        let response = try await request(.POST, "/api/v1/publish/batch", json: """
            [{"topic": "batch/1", "payload": "a"}, {"topic": "batch/2", "payload": "b", "qos": 1},
             {"topic": "other", "payload": "c"}]
            """)
        XCTAssertEqual(response.status, .ok, response.text)
        XCTAssertEqual(response.json?.array?.compactMap { $0["matched"]?.int }, [1, 1, 0])
        let received = try await subscriber.messages.wait(for: 2)
        XCTAssertEqual(received.texts, ["a", "b"])

        // One bad message refuses the whole batch, naming it; nothing is published.
        let bad = try await request(.POST, "/api/v1/publish/batch",
                                    json: #"[{"topic": "batch/3"}, {"topic": "batch/+"}]"#)
        assertError(bad, .badRequest, messageStartsWith: "[1].topic: invalid topic")
        let tooMany = "[" + Array(repeating: #"{"topic": "t"}"#, count: 1001).joined(separator: ",") + "]"
        assertError(try await request(.POST, "/api/v1/publish/batch", json: tooMany), .badRequest,
                    messageStartsWith: "a batch holds 1 to 1000 messages")
        assertError(try await request(.POST, "/api/v1/publish/batch", json: #"{"topic": "t"}"#), .badRequest)
        try await settle(.milliseconds(200))
        XCTAssertEqual(subscriber.messages.count, 2)
    }

    func testRetainedListShowAndDelete() async throws {
        let publisher = try await connect("retainer")
        _ = try await publisher.mqtt.publish("a/b/c", payload: "text", qos: .atLeastOnce, retain: true)
        _ = try await publisher.mqtt.publish("bin", payload: [0xFF, 0x00], qos: .atLeastOnce, retain: true)
        _ = try await request(.POST, "/api/v1/publish",
                              json: #"{"topic": "via/http", "payload": "h", "retain": true, "properties": {"message_expiry_interval": 100, "user_properties": {"myKey": "v"}}}"#)

        // The node's own retained $SYS topics are listed too; this test looks at the others.
        let list = try await get("/api/v1/retained").withoutSysTopics
        XCTAssertEqual(list.items.compactMap { $0["topic"]?.string }, ["a/b/c", "bin", "via/http"])
        XCTAssertEqual(list.items[0]["payload"]?.string, "text")
        XCTAssertEqual(list.items[0]["payload_encoding"]?.string, "plain")
        XCTAssertEqual(list.items[0]["expires_in"]?.isNull, true)
        XCTAssertEqual(list.items[1]["payload"]?.string, "/wA=")
        XCTAssertEqual(list.items[1]["payload_encoding"]?.string, "base64")
        XCTAssertEqual(list.items[2]["qos"]?.int, 0)
        XCTAssertLessThanOrEqual(list.items[2]["expires_in"]?.int ?? 0, 100)
        XCTAssertGreaterThan(list.items[2]["expires_in"]?.int ?? 0, 90)
        XCTAssertEqual(list.items[2]["properties"]?["user_properties"]?["myKey"]?.string, "v", "keys of user properties stay as sent")

        let one = try await get("/api/v1/retained/a%2Fb%2Fc")
        XCTAssertEqual(one["topic"]?.string, "a/b/c")
        let deleted = try await request(.DELETE, "/api/v1/retained/a%2Fb%2Fc")
        XCTAssertEqual(deleted.status, .noContent, deleted.text)
        assertError(try await request(.DELETE, "/api/v1/retained/a%2Fb%2Fc"), .notFound, messageStartsWith: "no retained message on 'a/b/c'")
        // The topic may also be the rest of the path.
        let restOfPath = try await request(.DELETE, "/api/v1/retained/via/http")
        XCTAssertEqual(restOfPath.status, .noContent)
        let left = try await get("/api/v1/retained").withoutSysTopics
        XCTAssertEqual(left.items.compactMap { $0["topic"]?.string }, ["bin"])

        // A new subscriber no longer gets the deleted one.
        let late = try await connect("late")
        try await late.subscribe("#")
        try await settle(.milliseconds(200))
        XCTAssertEqual(late.messages.all.topics, ["bin"])
    }
}

extension JSONValue {
    /// A list answer without the node's own `$SYS/…` entries.
    var withoutSysTopics: JSONValue {
        guard case .object(var fields) = self, case .array(let items)? = fields["data"] else { return self }
        fields["data"] = .array(items.filter { !($0["topic"]?.string?.hasPrefix("$SYS") ?? false) })
        return .object(fields)
    }
}
