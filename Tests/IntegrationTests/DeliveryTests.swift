import MQTTClient
import MQTTCore
import XCTest
import StarlingTestSupport

/// How messages reach subscribers: shared subscriptions, topic aliases, the inflight window.
final class DeliveryTests: IntegrationTestCase, @unchecked Sendable {
    /// Three members of `$share/g/…` split 30 messages round robin: each message once, 10 per member.
    func testSharedSubscriptionSplitsMessagesRoundRobin() async throws {
        var members: [TestClient] = []
        for index in 0..<3 {
            let member = try await connect("share-\(index)")
            try await member.subscribe("$share/g/sh/t")
            members.append(member)
        }
        let publisher = try await connect("share-pub")
        try await publisher.publishNumbered(30, to: "sh/t")

        let group = members
        try await waitUntil("30 shared messages (have \(group.map(\.messages.count)))") {
            group.map(\.messages.count).reduce(0, +) >= 30
        }
        try await settle()
        let received = members.map { $0.messages.all }
        XCTAssertEqual(received.map(\.count), [10, 10, 10])
        let numbers = received.map { messages in messages.map { Int($0.text.dropFirst())! } }
        XCTAssertEqual(numbers.flatMap { $0 }.sorted(), Array(0..<30), "every message exactly once")
        for memberNumbers in numbers {
            XCTAssertEqual(memberNumbers, memberNumbers.sorted(), "in order per member")
            XCTAssertEqual(Set(memberNumbers.map { $0 % 3 }).count, 1, "round robin: every third message")
        }
        XCTAssertEqual(Set(numbers.compactMap { $0.first.map { $0 % 3 } }), [0, 1, 2])
    }

    /// A client's alias (set with the topic, then used alone) reaches subscribers as the full topic.
    func testTopicAliasFromTheClientIsDeliveredWithTheFullTopic() async throws {
        let subscriber = try await connect("ta-sub")
        try await subscriber.subscribe("ta/#")
        let publisher = try await connect("ta-pub")
        let setting = try await publisher.mqtt.publish("ta/long/topic", payload: "1", qos: .atLeastOnce,
                                                       properties: [.topicAlias(1)])
        XCTAssertEqual(setting?.reasonCode, .success)
        let using = try await publisher.mqtt.publish("", payload: "2", qos: .atLeastOnce, properties: [.topicAlias(1)])
        XCTAssertEqual(using?.reasonCode, .success)
        // The same alias set again stands for the new topic.
        try await publisher.mqtt.publish("ta/other", payload: "3", qos: .atLeastOnce, properties: [.topicAlias(1)])
        try await publisher.mqtt.publish("", payload: "4", qos: .atLeastOnce, properties: [.topicAlias(1)])

        try await subscriber.messages.wait(for: 4)
        let onTheWire = try await subscriber.packets.matches(atLeast: 4) { $0.publish }
        XCTAssertEqual(onTheWire.topics, ["ta/long/topic", "ta/long/topic", "ta/other", "ta/other"])
        XCTAssertEqual(onTheWire.texts, ["1", "2", "3", "4"])
        XCTAssertEqual(onTheWire.map(\.properties.topicAlias), [nil, nil, nil, nil],
                       "the publisher's alias is not forwarded")
    }

    /// A subscriber that allows topic aliases gets them: the topic once with a new alias, then the alias alone.
    func testServerSetsTopicAliasesWhenTheSubscriberAllowsThem() async throws {
        let subscriber = try await connect("sa-sub") { $0.connectProperties.topicAliasMaximum = 4 }
        try await subscriber.subscribe("sa/#")
        let publisher = try await connect("sa-pub")
        for topic in ["sa/x", "sa/x", "sa/y", "sa/x"] {
            try await publisher.mqtt.publish(topic, payload: topic, qos: .atLeastOnce)
        }

        let delivered = try await subscriber.messages.wait(for: 4)
        XCTAssertEqual(delivered.topics, ["sa/x", "sa/x", "sa/y", "sa/x"], "the client resolves the aliases")
        XCTAssertEqual(delivered.texts, delivered.topics)
        let onTheWire = try await subscriber.packets.matches(atLeast: 4) { $0.publish }
        XCTAssertEqual(onTheWire.topics, ["sa/x", "", "sa/y", ""])
        XCTAssertEqual(onTheWire.map(\.properties.topicAlias), [1, 1, 2, 1])
    }

    /// A message dropped because it exceeds the subscriber's maximum packet size must not leave an alias
    /// behind that the subscriber never learned: the next message on that topic carries the topic name.
    func testTopicAliasIsNotTakenByAMessageTooLargeForTheSubscriber() async throws {
        let subscriber = try await connect("sd-sub") {
            $0.connectProperties.topicAliasMaximum = 4
            $0.connectProperties.maximumPacketSize = 64
        }
        try await subscriber.subscribe("sd/#")
        let publisher = try await connect("sd-pub")
        try await publisher.mqtt.publish("sd/x", payload: String(repeating: "x", count: 200), qos: .atLeastOnce)
        try await publisher.mqtt.publish("sd/x", payload: "small", qos: .atLeastOnce)

        let delivered = try await subscriber.messages.wait(for: 1)
        XCTAssertEqual(delivered.texts, ["small"])
        let onTheWire = try await subscriber.packets.matches(atLeast: 1) { $0.publish }
        XCTAssertEqual(onTheWire.topics, ["sd/x"],
                       "the first PUBLISH a subscriber sees for a topic must name it, not use an alias it never got")
        XCTAssertEqual(delivered.topics, ["sd/x"], "the client could not resolve the alias")
    }

    /// Receive maximum 3: three QoS 1 messages in flight until one is acknowledged, then the next.
    func testReceiveMaximumBoundsTheMessagesInFlight() async throws {
        let subscriber = try await connect("rm-sub") {
            $0.connectProperties.receiveMaximum = 3
            $0.autoAck = false
        }
        try await subscriber.subscribe("rm/t")
        let publisher = try await connect("rm-pub")
        try await publisher.publishNumbered(10, to: "rm/t")

        let window = try await subscriber.messages.wait(for: 3)
        try await settle()
        XCTAssertEqual(subscriber.messages.count, 3, "no fourth message before an acknowledgement")
        XCTAssertEqual(window.texts, ["m0", "m1", "m2"])

        try await subscriber.acknowledge(window[0])
        let afterOne = try await subscriber.messages.wait(for: 4)
        XCTAssertEqual(afterOne[3].text, "m3")
        try await settle()
        XCTAssertEqual(subscriber.messages.count, 4, "one acknowledgement frees one slot")

        // Acknowledging one at a time lets the rest through, never more than three unacknowledged.
        for acknowledged in 1..<10 {
            let received = subscriber.messages.all
            XCTAssertLessThanOrEqual(received.count - acknowledged, 3)
            try await subscriber.acknowledge(received[acknowledged])
            try await subscriber.messages.wait(for: min(acknowledged + 4, 10))
        }
        XCTAssertEqual(subscriber.messages.all.texts, (0..<10).map { "m\($0)" })
    }
}
