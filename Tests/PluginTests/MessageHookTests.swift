import MQTTClient
import MQTTCore
import NIOCore
import StarlingKernel
import XCTest
import StarlingTestSupport

/// The ABI 1.2 message, subscription and session hooks through a real `.so` (built by `cc` from
/// Fixtures/message_hooks_plugin.c) and real clients: publish rewrites and drops, delivered / acked
/// / dropped notifications, filter rewrites, and the order of session events.
final class MessageHookTests: PluginTestCase, @unchecked Sendable {
    private func buildPlugin(_ output: String = "message-hooks.so") throws -> String {
        try PluginBuilder.build("Tests/PluginTests/Fixtures/message_hooks_plugin.c", into: directory, output: output)
    }

    /// The plugin's notification lines ("mh: ...") containing `text`.
    private func said(_ text: String) -> [String] { log.lines(containing: "mh: \(text)") }

    func testPublishHookRewritesMessagesFromClientsAndTheAPIAndDropsOnStop() async throws {
        let plugin = try buildPlugin()
        try await startNode(plugins: [entry(plugin, ["rewrite_from": "in/raw", "rewrite_to": "out/cooked",
                                                     "drop_prefix": "drop/"])])
        let subscriber = try await connect("watcher")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "#", qos: .exactlyOnce)])

        let publisher = try await connect("pub-5")
        try await publisher.publish("in/raw", payload: "original", qos: .atMostOnce,
                                    properties: [.userProperty("from", "client")])
        let dropped = try await publisher.publish("drop/1", payload: "gone", qos: .atLeastOnce)
        XCTAssertEqual(dropped?.reasonCode, .noMatchingSubscribers, "a dropped message is acknowledged as unmatched")
        let droppedQoS2 = try await publisher.publish("drop/2", payload: "gone", qos: .exactlyOnce)
        XCTAssertEqual(droppedQoS2?.reasonCode, .success, "PUBREC 0x10 is not an error: the flow completes")
        let old = try await connect("pub-3", version: .v3_1_1)
        let oldAck = try await old.publish("drop/3", payload: "gone", qos: .atLeastOnce)
        XCTAssertEqual(oldAck?.reasonCode, .success)
        try await publisher.publish("plain/1", payload: "untouched", qos: .atLeastOnce)
        try await node.broker.publish(topic: "in/raw", payload: ByteBuffer(string: "from the API"))

        let texts = try await inbox.wait(for: 3)
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.all.count, 3, "\(texts)")
        let rewritten = inbox.all.filter { $0.topic == "out/cooked" }
        XCTAssertEqual(rewritten.count, 2, "the client's and the API's message are both rewritten")
        for message in rewritten {
            XCTAssertEqual(String(buffer: message.payload), "REWRITTEN")
            XCTAssertEqual(message.qos, .atLeastOnce, "the hook raised QoS 0 to 1")
            XCTAssertEqual(message.properties.contentType, "text/x-rewritten")
            XCTAssertEqual(message.properties.userProperties.map { "\($0.0)=\($0.1)" }, ["hooked=yes"])
        }
        let plain = try XCTUnwrap(inbox.all.first { $0.topic == "plain/1" })
        XCTAssertEqual(String(buffer: plain.payload), "untouched")
        XCTAssertEqual(try node.broker.stats.dropped["denied_by_hook"], 3)
    }

    func testAnInvalidRewrittenTopicDropsTheMessageLogsAndCountsIt() async throws {
        let plugin = try buildPlugin()
        try await startNode(plugins: [entry(plugin, name: "rewriter", ["bad_topic": "make/bad", "odd_topic": "odd",
                                                                       "notify": "1"])])
        let subscriber = try await connect("watcher")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce)])
        let publisher = try await connect("pub")
        let ack = try await publisher.publish("make/bad", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .noMatchingSubscribers)
        try await publisher.publish("fine", payload: "y", qos: .atLeastOnce)
        try await inbox.wait(for: 1)
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.texts, ["y"])
        XCTAssertEqual(try node.broker.stats.dropped["invalid_rewrite"], 1)
        let warning = try await log.wait(for: "dropped a message a message_publish hook rewrote")
        XCTAssertTrue(warning.contains("bad/+/wildcard") && warning.contains("[rewriter]"), warning)
        XCTAssertEqual(said("dropped 7 - make/bad").count, 1, "reported to message_dropped as an invalid rewrite")

        // A result that is neither OK nor STOP: logged, and the message is dropped as by STOP.
        let odd = try await publisher.publish("odd", payload: "z", qos: .atLeastOnce)
        XCTAssertEqual(odd?.reasonCode, .noMatchingSubscribers)
        try await log.wait(for: "returned 7 from its message_publish callback, which is not OK (0) or STOP (1): counted as STOP")
        try await waitUntil("the odd drop") { !self.said("dropped 6 - odd").isEmpty }
        XCTAssertEqual(inbox.texts, ["y"])
        XCTAssertTrue(publisher.isActive)
    }

    /// Each delivery is announced once with its QoS; QoS 1 and 2 deliveries are acknowledged once
    /// (PUBACK, PUBCOMP), QoS 0 never; a message nobody wants is dropped as "no subscribers".
    func testDeliveredAndAckedAreCountedExactlyPerQoS() async throws {
        let plugin = try buildPlugin()
        try await startNode(plugins: [entry(plugin, ["notify": "1"])])
        let subscriber = try await connect("sub")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "t/#", qos: .exactlyOnce)])
        let publisher = try await connect("pub")
        try await publisher.publish("t/0", payload: "0", qos: .atMostOnce)
        try await publisher.publish("t/1", payload: "1", qos: .atLeastOnce)
        try await publisher.publish("t/2", payload: "2", qos: .exactlyOnce)
        try await publisher.publish("nobody/here", payload: "-", qos: .atLeastOnce)
        try await inbox.wait(for: 3)
        try await waitUntil("both acknowledgements") { self.said("acked sub").count >= 2 }
        try await settle(.milliseconds(200))
        XCTAssertEqual(said("delivered sub t/0 qos 0 dup 0").count, 1)
        XCTAssertEqual(said("delivered sub t/1 qos 1 dup 0").count, 1)
        XCTAssertEqual(said("delivered sub t/2 qos 2 dup 0").count, 1)
        XCTAssertEqual(said("delivered").count, 3)
        XCTAssertEqual(said("acked sub t/1 qos 1").count, 1)
        XCTAssertEqual(said("acked sub t/2 qos 2").count, 1)
        XCTAssertEqual(said("acked").count, 2)
        XCTAssertEqual(said("dropped 1 - nobody/here").count, 1)
    }

    /// An offline subscriber's queue holds 2: the two oldest QoS 1 messages are dropped as
    /// "queue full"; a message that expires while queued is dropped as "expired" when it would go out.
    func testDroppedWithReasonForAFullQueueAndAnExpiredMessage() async throws {
        let plugin = try buildPlugin()
        try await startNode(plugins: [entry(plugin, ["notify": "1"])]) { $0.settings.session.maxQueuedMessages = 2 }
        let persistent: Properties = [.sessionExpiryInterval(300)]
        var subscriber = try await connect("offline", properties: persistent)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "q/#", qos: .atLeastOnce)])
        try await subscriber.disconnect()

        let publisher = try await connect("pub")
        for index in 1...4 { try await publisher.publish("q/\(index)", payload: "\(index)", qos: .atLeastOnce) }
        try await waitUntil("two drops") { self.said("dropped 2 offline").count >= 2 }
        XCTAssertEqual(said("dropped 2 offline q/1").count, 1)
        XCTAssertEqual(said("dropped 2 offline q/2").count, 1)
        subscriber = try await connect("offline", cleanStart: false, properties: persistent)
        let inbox = Inbox(subscriber)
        let resumed = try await inbox.wait(for: 2)
        XCTAssertEqual(resumed, ["3", "4"])
        try await subscriber.disconnect()

        try await publisher.publish("q/short", payload: "stale", qos: .atLeastOnce,
                                    properties: [.messageExpiryInterval(1)])
        try await Task.sleep(for: .milliseconds(1_500))
        subscriber = try await connect("offline", cleanStart: false, properties: persistent)
        try await waitUntil("the expiry drop") { !self.said("dropped 3 offline q/short").isEmpty }
        XCTAssertEqual(said("dropped 2").count, 2)
        XCTAssertEqual(try node.broker.stats.dropped["expired"], 1)
    }

    func testSubscribeAndUnsubscribeHooksRewriteAndRefuseFilters() async throws {
        let plugin = try buildPlugin()
        let second = try buildPlugin("message-hooks-2.so")
        try await startNode(plugins: [entry(plugin, name: "alias", ["sub_from": "alias/#", "sub_to": "real/#",
                                                                    "sub_stop": "forbidden/"]),
                                      entry(second, name: "breaker", ["sub_from": "broken", "sub_to": "a/#/b"])])
        let client = try await connect("sub")
        let inbox = Inbox(client)
        let subAck = try await client.subscribe([TopicSubscription(filter: "alias/#", qos: .atLeastOnce),
                                                 TopicSubscription(filter: "forbidden/x", qos: .atLeastOnce),
                                                 TopicSubscription(filter: "broken", qos: .atLeastOnce),
                                                 TopicSubscription(filter: "ok/x", qos: .atLeastOnce)])
        XCTAssertEqual(subAck.reasonCodes, [.grantedQoS1, .notAuthorized, .topicFilterInvalid, .grantedQoS1])
        let publisher = try await connect("pub")
        try await publisher.publish("real/1", payload: "via the rewritten filter", qos: .atLeastOnce)
        try await publisher.publish("alias/1", payload: "not subscribed", qos: .atLeastOnce)
        let first = try await inbox.wait(for: 1)
        XCTAssertEqual(first, ["via the rewritten filter"])

        let unsubAck = try await client.unsubscribe(["alias/#", "forbidden/x"])
        XCTAssertEqual(unsubAck.reasonCodes, [.success, .notAuthorized])
        try await publisher.publish("real/2", payload: "after unsubscribe", qos: .atLeastOnce)
        try await publisher.publish("ok/x", payload: "still subscribed", qos: .atLeastOnce)
        try await inbox.wait(for: 2)
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.texts, ["via the rewritten filter", "still subscribed"])
    }

    /// The publisher's user name reaches message_publish, _delivered and _dropped, and the
    /// session's owner's reaches the session hooks, through the fields appended to their structs;
    /// messages without a publisher user (the API's) say NULL.
    func testUserNamesInMessageAndSessionEvents() async throws {
        let plugin = try buildPlugin()
        try await startNode(plugins: [entry(plugin, ["notify": "1", "users": "1"])])
        let subscriber = try await connect("sub", username: "bob")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "u/#", qos: .atLeastOnce)])
        let publisher = try await connect("pub", username: "alice")
        try await publisher.publish("u/1", payload: "1", qos: .atLeastOnce)
        try await publisher.publish("nobody/1", payload: "-", qos: .atLeastOnce)
        try await node.broker.publish(topic: "u/api", payload: ByteBuffer(string: "api"))
        try await inbox.wait(for: 2)
        try await waitUntil("the drop") { !self.said("users dropped nobody/1").isEmpty }
        XCTAssertEqual(said("users publish u/1 alice").count, 1)
        XCTAssertEqual(said("users delivered u/1 alice").count, 1)
        XCTAssertEqual(said("users dropped nobody/1 alice").count, 1)
        XCTAssertEqual(said("users publish u/api -").count, 1)
        XCTAssertEqual(said("users delivered u/api -").count, 1)
        try await publisher.disconnect()
        try await waitUntil("pub's session ended") { !self.said("users session ended pub").isEmpty }
        XCTAssertEqual(said("users session created pub alice").count, 1)
        XCTAssertEqual(said("users session ended pub alice").count, 1)
        XCTAssertEqual(said("users session created sub bob").count, 1)
    }

    /// The session events the plugin logged for `clientId`, e.g. "created keep reason 0".
    private func events(_ clientId: String) -> [String] {
        said("session").compactMap { line in
            guard line.contains(" \(clientId) ") else { return nil }
            return line.components(separatedBy: "mh: session ").last
        }
    }

    /// created / resumed / taken over / ended, in order, for clean start 1 and 0 and a take-over.
    func testSessionEventsComeInOrder() async throws {
        let plugin = try buildPlugin()
        try await startNode(plugins: [entry(plugin, ["notify": "1"])])
        let transient = try await connect("clean")
        try await transient.disconnect()
        try await waitUntil("clean ended") { events("clean").count >= 2 }
        XCTAssertEqual(events("clean"), ["created clean reason 0", "ended clean reason 1"])

        let persistent: Properties = [.sessionExpiryInterval(300)]
        let first = try await connect("keep", cleanStart: false, properties: persistent)
        try await first.disconnect()
        _ = try await connect("keep", cleanStart: false, properties: persistent)      // resumes the offline session
        let taker = try await connect("keep", cleanStart: false, properties: persistent)  // takes the online one over
        _ = try await connect("keep", cleanStart: true, properties: persistent)        // discards it
        _ = taker
        try await waitUntil("keep's six events") { events("keep").count >= 6 }
        XCTAssertEqual(events("keep"), ["created keep reason 0", "resumed keep reason 0", "taken_over keep reason 0",
                                        "resumed keep reason 0", "ended keep reason 3", "created keep reason 0"])

        let short = try await connect("brief", properties: [.sessionExpiryInterval(1)])
        try await short.disconnect()
        try await waitUntil("brief expired", timeout: .seconds(4)) { events("brief").count >= 2 }
        XCTAssertEqual(events("brief"), ["created brief reason 0", "ended brief reason 2"])

        _ = try await connect("victim")
        XCTAssertTrue(try node.broker.enqueueKick(clientId: "victim"))
        try await waitUntil("victim kicked") { events("victim").count >= 2 }
        XCTAssertEqual(events("victim"), ["created victim reason 0", "ended victim reason 4"])
    }
}
