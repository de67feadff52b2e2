import MQTTClient
import MQTTCore
import NIOCore
import XCTest
import StarlingTestSupport

/// Sessions that outlive their connections: QoS 2 state, queued and in-flight messages, takeover.
final class SessionTests: IntegrationTestCase, @unchecked Sendable {
    /// A QoS 2 PUBLISH resent with DUP after a reconnect (before PUBREL) is acknowledged again but routed once.
    ///
    /// The publisher is a raw connection: `MQTTClient` answers any PUBREC it did not ask for with PUBREL, which
    /// would release the message before the reconnect.
    func testQoS2PublishIsDeliveredExactlyOnceAcrossReconnect() async throws {
        let subscriber = try await connect("eo-sub")
        try await subscriber.subscribe("eo/t", qos: .exactlyOnce)

        let connect = Connect(protocolVersion: .v5, cleanStart: true, clientIdentifier: "eo-pub",
                              properties: [.sessionExpiryInterval(60)])
        let first = try await connectRaw(connect)
        let publish = Publish(topic: "eo/t", payload: ByteBuffer(string: "once"), qos: .exactlyOnce,
                              packetIdentifier: 7)
        try await first.send(.publish(publish))
        let firstPubRec = try await first.packets.first { $0.pubRec }
        XCTAssertEqual(firstPubRec.packetIdentifier, 7)
        XCTAssertEqual(firstPubRec.reasonCode, .success)
        await first.close()
        try await waitForConnections(1)

        var resume = connect
        resume.cleanStart = false
        let second = try await connectRaw(resume)
        XCTAssertTrue(second.connAck.sessionPresent)
        var resent = publish
        resent.dup = true
        try await second.send(.publish(resent))
        let secondPubRec = try await second.packets.first { $0.pubRec }
        XCTAssertEqual(secondPubRec.packetIdentifier, 7)
        XCTAssertFalse(secondPubRec.reasonCode.isError)
        try await second.send(.pubrel(PublishAck(packetIdentifier: 7)))
        let pubComp = try await second.packets.first { $0.pubComp }
        XCTAssertEqual(pubComp.packetIdentifier, 7)
        XCTAssertEqual(pubComp.reasonCode, .success, "PUBCOMP must find the packet identifier the old connection left")

        // A message published after the flow ended comes next: no second copy was routed before it.
        let publisher = try await self.connect("eo-marker")
        try await publisher.mqtt.publish("eo/t", payload: "after", qos: .exactlyOnce)
        let received = try await subscriber.messages.wait(for: 2)
        XCTAssertEqual(received.texts, ["once", "after"])
        try await settle()
        XCTAssertEqual(subscriber.messages.count, 2)
    }

    /// Messages published while a persistent subscriber is away are all delivered, in order, when it returns.
    func testPersistentSessionResumesWithQueuedMessagesInOrder() async throws {
        let subscriber = try await connect("ps-sub", cleanStart: false, sessionExpiry: 60)
        XCTAssertFalse(subscriber.connAck.sessionPresent)
        try await subscriber.subscribe("ps/t")
        try await subscriber.mqtt.disconnect()
        try await waitForConnections(0)

        let publisher = try await connect("ps-pub")
        try await publisher.publishNumbered(20, to: "ps/t")

        let back = try await connect("ps-sub", cleanStart: false, sessionExpiry: 60)
        XCTAssertTrue(back.connAck.sessionPresent)
        let received = try await back.messages.wait(for: 20)
        XCTAssertEqual(received.texts, (0..<20).map { "m\($0)" })
        XCTAssertEqual(Set(received.topics), ["ps/t"])
        XCTAssertEqual(Set(received.map(\.qos)), [.atLeastOnce])
        XCTAssertEqual(Set(received.map(\.dup)), [false])
        try await settle()
        XCTAssertEqual(back.messages.count, 20)
    }

    /// QoS 1 messages the subscriber did not acknowledge come again, with DUP and the same packet identifiers.
    func testUnacknowledgedMessagesAreRedeliveredWithDupAfterReconnect() async throws {
        let subscriber = try await connect("rd-sub", cleanStart: false, sessionExpiry: 60) { $0.autoAck = false }
        try await subscriber.subscribe("rd/t")
        let publisher = try await connect("rd-pub")
        try await publisher.publishNumbered(3, to: "rd/t")
        let unacknowledged = try await subscriber.messages.wait(for: 3)
        XCTAssertEqual(unacknowledged.map(\.dup), [false, false, false])
        await subscriber.mqtt.closeAbruptly()
        try await waitForConnections(1)

        let back = try await connect("rd-sub", cleanStart: false, sessionExpiry: 60)
        XCTAssertTrue(back.connAck.sessionPresent)
        let redelivered = try await back.messages.wait(for: 3)
        XCTAssertEqual(redelivered.texts, ["m0", "m1", "m2"])
        XCTAssertEqual(redelivered.map(\.dup), [true, true, true])
        XCTAssertEqual(redelivered.map(\.packetIdentifier), unacknowledged.map(\.packetIdentifier))

        // Acknowledged now: the next message is new, and nothing is sent a third time.
        try await publisher.publishNumbered(1, to: "rd/t", prefix: "next")
        let all = try await back.messages.wait(for: 4)
        XCTAssertEqual(all[3].text, "next0")
        XCTAssertFalse(all[3].dup)
        try await settle()
        XCTAssertEqual(back.messages.count, 4)
    }

    /// Redelivery after a reconnect respects the receive maximum of the new connection (5.0 section 4.9: the
    /// server must not have more unacknowledged QoS 1/2 PUBLISHes towards the client than it allows).
    func testRedeliveryAfterReconnectRespectsTheNewReceiveMaximum() async throws {
        let subscriber = try await connect("rw-sub", cleanStart: false, sessionExpiry: 60) {
            $0.connectProperties.receiveMaximum = 3
            $0.autoAck = false
        }
        try await subscriber.subscribe("rw/t")
        let publisher = try await connect("rw-pub")
        try await publisher.publishNumbered(5, to: "rw/t")
        try await subscriber.messages.wait(for: 3)
        await subscriber.mqtt.closeAbruptly()
        try await waitForConnections(1)

        let back = try await connect("rw-sub", cleanStart: false, sessionExpiry: 60) {
            $0.connectProperties.receiveMaximum = 1
            $0.autoAck = false
        }
        try await back.messages.wait(for: 1)
        try await settle()
        XCTAssertEqual(back.messages.count, 1, "receive maximum 1, yet \(back.messages.count) unacknowledged PUBLISHes came")

        // Acknowledging one at a time brings the rest, in order.
        for acknowledged in 0..<5 {
            let received = try await back.messages.wait(for: acknowledged + 1)
            try await back.acknowledge(received[acknowledged])
        }
        let all = back.messages.all
        XCTAssertEqual(all.texts, (0..<5).map { "m\($0)" })
        XCTAssertEqual(all.map(\.dup), [true, true, true, false, false])
    }

    /// A second 5.0 connection with the same client id closes the first with DISCONNECT 0x8E and works.
    func testSameClientIdTakesTheConnectionOver() async throws {
        let first = try await connect("to-client")
        let second = try await connect("to-client")
        let disconnect = try await first.mqtt.waitForClose(timeout: .seconds(5))
        XCTAssertEqual(disconnect?.reasonCode, .sessionTakenOver)
        XCTAssertFalse(second.connAck.sessionPresent)

        try await second.subscribe("to/echo")
        let ack = try await second.mqtt.publish("to/echo", payload: "still here", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .success)
        let echoed = try await second.messages.wait(for: 1)
        XCTAssertEqual(echoed.texts, ["still here"])
    }

    /// Taken over without clean start, the session's subscriptions serve the new connection.
    func testTakeoverWithoutCleanStartMovesTheSubscriptions() async throws {
        let first = try await connect("tm-client", cleanStart: false, sessionExpiry: 60)
        try await first.subscribe("tm/t")
        let second = try await connect("tm-client", cleanStart: false, sessionExpiry: 60)
        XCTAssertTrue(second.connAck.sessionPresent)
        let disconnect = try await first.mqtt.waitForClose(timeout: .seconds(5))
        XCTAssertEqual(disconnect?.reasonCode, .sessionTakenOver)

        let publisher = try await connect("tm-pub")
        try await publisher.publishNumbered(2, to: "tm/t")
        let received = try await second.messages.wait(for: 2)
        XCTAssertEqual(received.texts, ["m0", "m1"])
        XCTAssertEqual(first.messages.count, 0)
    }

    /// Eight connects racing with one client id leave exactly one connection, which owns the session.
    func testRacingConnectsWithOneClientIdLeaveExactlyOneWinner() async throws {
        let clients = try await withThrowingTaskGroup(of: TestClient.self) { group in
            for _ in 0..<8 {
                group.addTask { try await self.connect("race-client", cleanStart: false, sessionExpiry: 60) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await waitForConnections(1)
        try await waitUntil("the losers see their connections closed") {
            clients.filter { $0.mqtt.isActive }.count == 1
        }
        let winner = try XCTUnwrap(clients.first { $0.mqtt.isActive })
        try await winner.subscribe("race/t")
        let publisher = try await connect("race-pub")
        try await publisher.publishNumbered(1, to: "race/t")
        let received = try await winner.messages.wait(for: 1)
        XCTAssertEqual(received.texts, ["m0"])
        XCTAssertEqual(try node.broker.stats.sessions, 2, "one session for the raced id, one for the publisher")
    }
}
