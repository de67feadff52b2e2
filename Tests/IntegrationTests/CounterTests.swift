import MQTTClient
import MQTTCore
import NIOCore
import StarlingKernel
import XCTest
import StarlingTestSupport

/// The kernel's counters (`Broker.stats`) against exchanges whose every packet and byte is known.
final class CounterTests: IntegrationTestCase, @unchecked Sendable {
    /// One raw 5.0 client: CONNECT, SUBSCRIBE, a QoS 1 PUBLISH to itself, its PUBACK, PINGREQ,
    /// DISCONNECT. Each packet type and every byte is counted once, in the right direction.
    func testPacketsAndBytesOfAKnownExchange() async throws {
        let connect = Connect(protocolVersion: .v5, cleanStart: true, keepAlive: 30, clientIdentifier: "count-raw")
        let peer = try await connectRaw(connect)
        var sent: [MQTTPacket] = [.connect(connect)]
        func send(_ packet: MQTTPacket) async throws {
            sent.append(packet)
            try await peer.send(packet)
        }

        try await send(.subscribe(Subscribe(packetIdentifier: 1, subscriptions: [TopicSubscription(filter: "count/t", qos: .atLeastOnce)])))
        _ = try await peer.packets.first { if case .suback(let ack) = $0 { ack } else { nil } }
        try await send(.publish(Publish(topic: "count/t", payload: ByteBuffer(string: "hello"), qos: .atLeastOnce,
                                        packetIdentifier: 1)))
        _ = try await peer.packets.first { $0.pubAck }
        let delivered = try await peer.packets.first { $0.publish }
        try await send(.puback(PublishAck(packetIdentifier: delivered.packetIdentifier!)))
        try await send(.pingreq)
        _ = try await peer.packets.first { $0.isPingResp ? true : nil }
        try await send(.disconnect(Disconnect()))
        try await waitForConnections(0)
        let broker = try node.broker
        try await waitUntil("the disconnect counted") { broker.stats.disconnectsTotal == 1 }

        let stats = broker.stats
        let received = peer.packets.all
        XCTAssertEqual(received.map(\.type), [.connack, .suback, .puback, .publish, .pingresp])
        XCTAssertEqual(stats.packetsReceived.filter { $0.value > 0 },
                       ["connect": 1, "subscribe": 1, "publish": 1, "puback": 1, "pingreq": 1, "disconnect": 1])
        XCTAssertEqual(stats.packetsSent.filter { $0.value > 0 },
                       ["connack": 1, "suback": 1, "puback": 1, "publish": 1, "pingresp": 1])
        XCTAssertEqual(stats.packetsReceived.count, 11, "every type a client sends is listed, zero included")
        XCTAssertEqual(stats.packetsSent.count, 11, "every type the broker sends is listed, zero included")
        XCTAssertEqual(stats.bytesReceived, sent.map { MQTTPacketEncoder.encodedSize(of: $0, version: .v5) }.reduce(0, +))
        XCTAssertEqual(stats.bytesSent, received.map { MQTTPacketEncoder.encodedSize(of: $0, version: .v5) }.reduce(0, +))
        XCTAssertEqual(stats.messagesReceived, 1)
        XCTAssertEqual(stats.messagesSent, 1)
        XCTAssertEqual(stats.connects, 1)
        XCTAssertEqual(stats.disconnects["normal"], 1)
        XCTAssertEqual(stats.authentications, ["success": 0, "failure": 0, "anonymous": 1])
        XCTAssertEqual(stats.authorizations, ["publish": ["allow": 0, "deny": 0], "subscribe": ["allow": 0, "deny": 0]])
        XCTAssertEqual(stats.droppedTotal, 0)
    }

    /// QoS 0 fan-out shares one encoded PUBLISH among subscribers; each copy still counts its bytes.
    func testSharedQoS0DeliveriesCountTheirBytes() async throws {
        let subscribers = [try await connect("count-s1"), try await connect("count-s2")]
        for subscriber in subscribers { try await subscriber.subscribe("count/q0", qos: .atMostOnce) }
        let publisher = try await connect("count-p")
        let broker = try node.broker
        let before = broker.stats
        try await publisher.mqtt.publish("count/q0", payload: "0123456789", qos: .atMostOnce)
        for subscriber in subscribers { try await subscriber.messages.wait(for: 1) }
        try await waitUntil("two deliveries counted") { broker.stats.messagesSent - before.messagesSent == 2 }
        let after = broker.stats
        let copy = MQTTPacketEncoder.encodedSize(
            of: .publish(Publish(topic: "count/q0", payload: ByteBuffer(string: "0123456789"))), version: .v5)
        XCTAssertEqual(after.bytesSent - before.bytesSent, 2 * copy)
        XCTAssertEqual(after.packetsSent["publish"]! - before.packetsSent["publish"]!, 2)
        XCTAssertEqual(after.messagesReceived - before.messagesReceived, 1)
        XCTAssertEqual(after.bytesReceived - before.bytesReceived, copy, "the publisher's PUBLISH, same shape")
    }

    /// Every way a connected client's connection ends is counted under its own reason.
    func testDisconnectReasons() async throws {
        let broker = try node.broker
        func waitForDisconnects(_ reason: DisconnectReason, _ count: Int) async throws {
            try await waitUntil("\(count) \(reason.rawValue) disconnects (have \(broker.stats.disconnects))") {
                broker.stats.disconnects[reason.rawValue] == count
            }
        }

        try await connect("reason-normal").mqtt.disconnect()
        try await waitForDisconnects(.normal, 1)

        let peer = try await connectRaw(Connect(clientIdentifier: "reason-socket"))
        await peer.close()
        try await waitForDisconnects(.socketError, 1)

        _ = try await connect("reason-takeover")
        _ = try await connect("reason-takeover")
        try await waitForDisconnects(.takeover, 1)

        _ = try await connect("reason-kicked")
        let kicked = await broker.kick("reason-kicked")
        XCTAssertTrue(kicked)
        try await waitForDisconnects(.kicked, 1)

        let offender = try await connect("reason-malformed")
        try await offender.mqtt.sendRaw([0x36, 0x0B, 0x00, 0x05] + Array("mal/x".utf8) + [0x00, 0x01, 0x00, 0x78])
        try await waitForDisconnects(.protocolError, 1)

        _ = try await connect("reason-keepalive") { $0.keepAlive = 1; $0.sendsPings = false }
        try await waitForDisconnects(.keepaliveTimeout, 1)

        let connectedBeforeStop = broker.stats.connections
        XCTAssertEqual(connectedBeforeStop, 1, "the client that took the session over")
        await stopNode()
        XCTAssertEqual(broker.stats.disconnects["server_shutdown"], 1)
        XCTAssertEqual(broker.stats.connects, 7)
        XCTAssertEqual(broker.stats.disconnectsTotal, 7)
    }
}
