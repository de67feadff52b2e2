import MQTTClient
import MQTTCore
import XCTest
import StarlingTestSupport

/// Publish → subscribe round trips at every QoS, in both protocol versions.
final class PublishSubscribeTests: IntegrationTestCase, @unchecked Sendable {
    func testRoundTripAtEveryQoSOverMQTT311() async throws {
        try await roundTrip(.v3_1_1)
    }

    func testRoundTripAtEveryQoSOverMQTT5() async throws {
        try await roundTrip(.v5)
    }

    /// A QoS 2 subscriber receives one message per QoS exactly as published; the publisher's flows end in
    /// PUBACK (QoS 1) and PUBREC + PUBCOMP (QoS 2) with success.
    private func roundTrip(_ version: ProtocolVersion) async throws {
        let subscriber = try await connect("rt-sub", version: version)
        try await subscriber.subscribe("rt/#", qos: .exactlyOnce)
        let publisher = try await connect("rt-pub", version: version)

        let levels: [QoS] = [.atMostOnce, .atLeastOnce, .exactlyOnce]
        for qos in levels {
            let ack = try await publisher.mqtt.publish("rt/\(qos)", payload: "payload \(qos)", qos: qos)
            if qos == .atMostOnce {
                XCTAssertNil(ack)
            } else {
                XCTAssertEqual(ack?.reasonCode, .success, "acknowledgement of QoS \(qos)")
            }
        }
        let pubAck = try await publisher.packets.first { $0.pubAck }
        let pubRec = try await publisher.packets.first { $0.pubRec }
        let pubComp = try await publisher.packets.first { $0.pubComp }
        XCTAssertEqual(pubAck.reasonCode, .success)
        XCTAssertEqual(pubRec.reasonCode, .success)
        XCTAssertEqual(pubComp.reasonCode, .success)
        XCTAssertEqual(pubRec.packetIdentifier, pubComp.packetIdentifier)

        let received = try await subscriber.messages.wait(for: 3)
        XCTAssertEqual(received.topics, ["rt/0", "rt/1", "rt/2"])
        XCTAssertEqual(received.texts, ["payload 0", "payload 1", "payload 2"])
        XCTAssertEqual(received.map(\.qos), levels)
        XCTAssertEqual(received.map(\.retain), [false, false, false])
        XCTAssertEqual(received.map(\.dup), [false, false, false])
        XCTAssertNil(received[0].packetIdentifier)
        // The subscriber's QoS 2 flow went on to PUBREL for the message it received.
        let pubRel = try await subscriber.packets.first { $0.pubRel }
        XCTAssertEqual(pubRel.packetIdentifier, received[2].packetIdentifier)
        try await settle()
        XCTAssertEqual(subscriber.messages.count, 3)
    }

    /// 5.0 acknowledgements say when nobody subscribes (0x10, not an error); 3.1.1 ones cannot.
    func testNoMatchingSubscribersIsReportedToMQTT5Publishers() async throws {
        let publisher = try await connect("nm-5")
        let pubAck = try await publisher.mqtt.publish("nobody/listens", payload: "1", qos: .atLeastOnce)
        XCTAssertEqual(pubAck?.reasonCode, .noMatchingSubscribers)
        let pubComp = try await publisher.mqtt.publish("nobody/listens", payload: "2", qos: .exactlyOnce)
        XCTAssertEqual(pubComp?.reasonCode, .success)
        let pubRec = try await publisher.packets.first { $0.pubRec }
        XCTAssertEqual(pubRec.reasonCode, .noMatchingSubscribers)

        let old = try await connect("nm-3", version: .v3_1_1)
        let oldAck = try await old.mqtt.publish("nobody/listens", payload: "3", qos: .atLeastOnce)
        XCTAssertEqual(oldAck?.reasonCode, .success)
    }

    /// Messages cross protocol versions: 5.0 properties reach 5.0 subscribers and are dropped for 3.1.1 ones.
    func testMessagesCrossProtocolVersions() async throws {
        let new = try await connect("xv-sub5")
        let old = try await connect("xv-sub3", version: .v3_1_1)
        try await new.subscribe("xv/#")
        try await old.subscribe("xv/#")
        let newPublisher = try await connect("xv-pub5")
        let oldPublisher = try await connect("xv-pub3", version: .v3_1_1)

        let properties: Properties = [.contentType("text/plain"), .userProperty("origin", "5.0")]
        try await newPublisher.mqtt.publish("xv/5", payload: "from 5.0", qos: .atLeastOnce, properties: properties)
        try await oldPublisher.mqtt.publish("xv/3", payload: "from 3.1.1", qos: .atLeastOnce)

        for subscriber in [new, old] {
            let received = try await subscriber.messages.wait(for: 2)
            XCTAssertEqual(received.topics, ["xv/5", "xv/3"])
            XCTAssertEqual(received.texts, ["from 5.0", "from 3.1.1"])
            XCTAssertTrue(received[1].properties.isEmpty)
        }
        let fromNew = try await new.messages.wait(for: 1)[0]
        XCTAssertEqual(fromNew.properties.contentType, "text/plain")
        XCTAssertEqual(fromNew.properties.userProperties.map { "\($0.0)=\($0.1)" }, ["origin=5.0"])
        let fromOld = try await old.messages.wait(for: 1)[0]
        XCTAssertTrue(fromOld.properties.isEmpty)
    }
}
