import MQTTClient
import MQTTCore
import XCTest

/// What ends connections: malformed input, refused filters, node shutdown, keep alive.
final class ConnectionTests: IntegrationTestCase, @unchecked Sendable {
    /// A PUBLISH with both QoS bits set is malformed: DISCONNECT 0x81 and close, for that client only.
    func testPublishWithQoS3IsMalformedAndClosesOnlyThatConnection() async throws {
        let bystander = try await connect("mal-bystander")
        try await bystander.subscribe("mal/#")
        let offender = try await connect("mal-offender")
        // PUBLISH, flags 0110 (QoS 3); topic "mal/x", packet id 1, no properties, payload "x".
        try await offender.mqtt.sendRaw([0x36, 0x0B, 0x00, 0x05] + Array("mal/x".utf8) + [0x00, 0x01, 0x00, 0x78])

        let disconnect = try await offender.mqtt.waitForClose(timeout: .seconds(5))
        XCTAssertEqual(disconnect?.reasonCode, .malformedPacket)
        XCTAssertFalse(offender.mqtt.isActive)

        let next = try await connect("mal-next")
        let ack = try await next.mqtt.publish("mal/ok", payload: "fine", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .success)
        let received = try await bystander.messages.wait(for: 1)
        XCTAssertEqual(received.topics, ["mal/ok"])
        XCTAssertTrue(bystander.mqtt.isActive)
    }

    /// An invalid filter is refused on its own (SUBACK 0x8F; 3.1.1: 0x80) while the other one is granted.
    func testInvalidFilterIsRefusedWhileTheOtherIsGranted() async throws {
        let subscriptions = [TopicSubscription(filter: "a/#/b", qos: .atLeastOnce),
                             TopicSubscription(filter: "ok/+", qos: .atLeastOnce)]
        let new = try await connect("filter-5")
        let newAck = try await new.mqtt.subscribe(subscriptions)
        XCTAssertEqual(newAck.reasonCodes, [.topicFilterInvalid, .grantedQoS1])
        let old = try await connect("filter-3", version: .v3_1_1)
        let oldAck = try await old.mqtt.subscribe(subscriptions)
        XCTAssertEqual(oldAck.reasonCodes.map(\.rawValue), [0x80, 0x01])

        let publisher = try await connect("filter-pub")
        try await publisher.mqtt.publish("ok/1", payload: "granted", qos: .atLeastOnce)
        for subscriber in [new, old] {
            let received = try await subscriber.messages.wait(for: 1)
            XCTAssertEqual(received.texts, ["granted"])
            XCTAssertTrue(subscriber.mqtt.isActive)
        }
    }

    /// A graceful stop tells 5.0 clients why (DISCONNECT 0x8B) and closes 3.1.1 clients.
    func testGracefulStopSendsServerShuttingDown() async throws {
        let new = try await connect("stop-5")
        let old = try await connect("stop-3", version: .v3_1_1)
        let port = try self.port
        await stopNode()

        let disconnect = try await new.mqtt.waitForClose(timeout: .seconds(5))
        XCTAssertEqual(disconnect?.reasonCode, .serverShuttingDown)
        let oldDisconnect = try await old.mqtt.waitForClose(timeout: .seconds(5))
        XCTAssertNil(oldDisconnect)
        do {
            _ = try await MQTTClient.connect(MQTTClientConfiguration(port: port, clientId: "stop-late",
                                                                     connectTimeout: .seconds(2)))
            XCTFail("a stopped node accepted a connection")
        } catch let error as MQTTClientError {
            XCTAssertEqual(error.code, .connectFailed)
        }
    }

    /// Keep alive 1 s: a silent client is closed after 1.5 s (DISCONNECT 0x8D); a pinging one stays.
    func testKeepAliveClosesSilentClientsOnly() async throws {
        let start = ContinuousClock.now
        let silent = try await connect("ka-silent") {
            $0.keepAlive = 1
            $0.sendsPings = false
        }
        let pinging = try await connect("ka-pinging") { $0.keepAlive = 1 }

        let disconnect = try await silent.mqtt.waitForClose(timeout: .seconds(3))
        let closedAfter = ContinuousClock.now - start
        XCTAssertEqual(disconnect?.reasonCode, .keepAliveTimeout)
        XCTAssertGreaterThanOrEqual(closedAfter, .milliseconds(1_450), "closed before 1.5 × keep alive")
        XCTAssertLessThan(closedAfter, .seconds(3))

        try await Task.sleep(until: start + .seconds(3))
        XCTAssertTrue(pinging.mqtt.isActive)
        XCTAssertGreaterThanOrEqual(pinging.packets.matches { $0.isPingResp ? true : nil }.count, 2)
        try await pinging.subscribe("ka/t")
    }
}
