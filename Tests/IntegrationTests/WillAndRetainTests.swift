import MQTTClient
import MQTTCore
import NIOCore
import XCTest
import StarlingTestSupport

/// Will messages and retained messages.
final class WillAndRetainTests: IntegrationTestCase, @unchecked Sendable {
    private func will(_ topic: String, properties: Properties = []) -> Will {
        Will(topic: topic, payload: ByteBuffer(string: "gone: \(topic)"), qos: .atLeastOnce, properties: properties)
    }

    /// A connection dropped without DISCONNECT publishes its will, with the will's properties.
    func testWillIsPublishedWithItsPropertiesOnAbruptClose() async throws {
        let watcher = try await connect("will-watch")
        try await watcher.subscribe("will/#")
        // A will delay beyond the session expiry (0) does not hold the will back, and is not forwarded.
        let properties: Properties = [.contentType("text/plain"), .userProperty("reason", "crash"),
                                      .payloadFormatIndicator(1), .responseTopic("will/replies"),
                                      .correlationData(ByteBuffer(string: "c-1")), .willDelayInterval(30)]
        let client = try await connect("will-abrupt") { $0.will = self.will("will/abrupt", properties: properties) }
        await client.mqtt.closeAbruptly()

        let message = try await watcher.messages.wait(for: 1)[0]
        XCTAssertEqual(message.topic, "will/abrupt")
        XCTAssertEqual(message.text, "gone: will/abrupt")
        XCTAssertEqual(message.qos, .atLeastOnce)
        XCTAssertFalse(message.retain)
        XCTAssertEqual(message.properties.contentType, "text/plain")
        XCTAssertEqual(message.properties.payloadFormatIndicator, 1)
        XCTAssertEqual(message.properties.userProperties.map { "\($0.0)=\($0.1)" }, ["reason=crash"])
        XCTAssertEqual(message.properties.responseTopic, "will/replies")
        XCTAssertEqual(message.properties.correlationData, ByteBuffer(string: "c-1"))
        XCTAssertNil(message.properties.willDelayInterval)
    }

    /// A normal DISCONNECT discards the will; DISCONNECT 0x04 (disconnect with will message) publishes it.
    func testWillFollowsTheDisconnectReasonCode() async throws {
        let watcher = try await connect("will-watch")
        try await watcher.subscribe("will/#")

        let normal = try await connect("will-normal") { $0.will = self.will("will/normal") }
        try await normal.mqtt.disconnect()
        try await waitForConnections(1)
        let withWill = try await connect("will-requested") { $0.will = self.will("will/requested") }
        try await withWill.mqtt.disconnect(.disconnectWithWillMessage)
        try await waitForConnections(1)

        let received = try await watcher.messages.wait(for: 1)
        XCTAssertEqual(received.topics, ["will/requested"])
        try await settle()
        XCTAssertEqual(watcher.messages.all.topics, ["will/requested"])
    }

    /// A retained message reaches later subscribers with RETAIN set; an empty retained payload clears it.
    func testRetainedMessageIsDeliveredOnSubscribeUntilCleared() async throws {
        let publisher = try await connect("ret-pub")
        let stored = try await publisher.mqtt.publish("ret/a", payload: "v1", qos: .atLeastOnce, retain: true)
        XCTAssertEqual(stored?.reasonCode.isError, false)

        let early = try await connect("ret-early")
        try await early.subscribe("ret/#")
        let retained = try await early.messages.wait(for: 1)[0]
        XCTAssertEqual(retained.topic, "ret/a")
        XCTAssertEqual(retained.text, "v1")
        XCTAssertTrue(retained.retain)
        XCTAssertEqual(retained.qos, .atLeastOnce)

        try await publisher.mqtt.publish("ret/a", payload: [], qos: .atLeastOnce, retain: true)
        let cleared = try await early.messages.wait(for: 2)[1]
        XCTAssertEqual(cleared.topic, "ret/a")
        XCTAssertEqual(cleared.payload.readableBytes, 0)
        XCTAssertFalse(cleared.retain, "a live message is sent without RETAIN (retain as published is off)")

        let late = try await connect("ret-late")
        try await late.subscribe("ret/#")
        try await publisher.mqtt.publish("ret/live", payload: "marker", qos: .atLeastOnce)
        let first = try await late.messages.wait(for: 1)[0]
        XCTAssertEqual(first.text, "marker", "the cleared retained message must not be sent on subscribe")
        XCTAssertFalse(first.retain)
    }

    /// Retain handling 2 (do not send) subscribes without the retained message; handling 0 gets it.
    func testRetainHandlingDoNotSendSkipsTheRetainedMessage() async throws {
        let publisher = try await connect("rh-pub")
        try await publisher.mqtt.publish("rh/t", payload: "kept", qos: .atLeastOnce, retain: true)

        let skipping = try await connect("rh-skip")
        let subAck = try await skipping.mqtt.subscribe([
            TopicSubscription(filter: "rh/t", qos: .atLeastOnce, retainHandling: .doNotSend)
        ])
        XCTAssertEqual(subAck.reasonCodes, [.grantedQoS1])
        let sending = try await connect("rh-send")
        try await sending.subscribe("rh/t")

        try await publisher.mqtt.publish("rh/t", payload: "live", qos: .atLeastOnce)
        let skipped = try await skipping.messages.wait(for: 1)
        XCTAssertEqual(skipped.texts, ["live"])
        XCTAssertEqual(skipped.map(\.retain), [false])
        let sent = try await sending.messages.wait(for: 2)
        XCTAssertEqual(sent.texts, ["kept", "live"])
        XCTAssertEqual(sent.map(\.retain), [true, false])
    }
}
