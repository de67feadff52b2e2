import Foundation
import MQTTClient
import MQTTCore
import XCTest
import StarlingTestSupport

/// The plugins in plugins/, built with the plain `cc` line and loaded from the configuration.
final class ShippedPluginTests: PluginTestCase, @unchecked Sendable {
    /// hello-c reads its option, logs a greeting, counts connections, and says goodbye at unload.
    func testHelloReadsItsOptionAndCountsConnections() async throws {
        let hello = try PluginBuilder.build("plugins/hello-c/hello.c", into: directory, output: "hello-c.so")
        let node = try await startNode(plugins: [entry(hello, ["greeting": "bonjour"])])
        try await log.wait(for: "bonjour from hello-c (broker 0.1.0)")

        let first = try await connect("hello-1")
        try await log.wait(for: "client hello-1 connected (1 so far)")
        _ = try await connect("hello-2", version: .v3_1_1)
        try await log.wait(for: "client hello-2 connected (2 so far)")
        await first.closeAbruptly()

        let listed = await node.plugins.list()
        XCTAssertEqual(listed.map(\.name), ["hello-c"])
        XCTAssertEqual(listed.first?.optionKeys, ["greeting"])
        XCTAssertEqual(listed.first?.hookCount, 1)
        XCTAssertEqual(listed.first?.abiVersion, 1)
        XCTAssertEqual(listed.first?.path, hello)
        XCTAssertTrue(listed.first?.loadedCopy.hasPrefix(copiesDirectory.path + "/hello-c-") ?? false)

        await stopNode()
        XCTAssertNotNil(log.index(of: "goodbye from hello-c after 2 connections"))
        let copies = try FileManager.default.contentsOfDirectory(atPath: copiesDirectory.path)
        XCTAssertEqual(copies, [], "the copy is removed once the C image is closed")
    }

    /// acl-deny-topic-c refuses publishing into its filter and subscribing to filters that overlap
    /// it, and caps the QoS of the subscriptions it lets through.
    func testAclDenyTopicRefusesPublishAndSubscribeAndCapsQoS() async throws {
        let acl = try PluginBuilder.build("plugins/acl-deny-topic-c/acl_deny_topic.c", into: directory,
                                          output: "acl-deny-topic-c.so")
        try await startNode(plugins: [entry(acl, ["deny": "secret/#", "max_qos": "1"])])

        let new = try await connect("acl-5")
        let inbox = Inbox(new)
        let newAck = try await new.subscribe([TopicSubscription(filter: "secret/a", qos: .exactlyOnce),
                                              TopicSubscription(filter: "+/a", qos: .exactlyOnce),
                                              TopicSubscription(filter: "$share/g/secret/#", qos: .atMostOnce),
                                              TopicSubscription(filter: "public/#", qos: .exactlyOnce)])
        XCTAssertEqual(newAck.reasonCodes, [.notAuthorized, .notAuthorized, .notAuthorized, .grantedQoS1])
        let old = try await connect("acl-3", version: .v3_1_1)
        let oldAck = try await old.subscribe([TopicSubscription(filter: "secret", qos: .atLeastOnce),
                                              TopicSubscription(filter: "public/b", qos: .atMostOnce)])
        XCTAssertEqual(oldAck.reasonCodes.map(\.rawValue), [0x80, 0x00])

        let denied = try await new.publish("secret/x", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        let oldDenied = try await old.publish("secret/y", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(oldDenied?.reasonCode, .success, "3.1.1: acknowledged and dropped")
        let allowed = try await old.publish("public/x", payload: "yes", qos: .exactlyOnce)
        XCTAssertEqual(allowed?.reasonCode, .success)
        try await inbox.wait(for: 1)
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.texts, ["yes"])
        XCTAssertEqual(inbox.all.first?.qos, .atLeastOnce, "granted QoS capped at max_qos 1")
    }

    /// An ACL option that init refuses fails the load with init's value.
    func testAclWithoutItsRequiredOptionFailsToLoad() async throws {
        let acl = try PluginBuilder.build("plugins/acl-deny-topic-c/acl_deny_topic.c", into: directory,
                                          output: "acl-deny-topic-c.so")
        try await startNode()
        let failure = try await loadFailure(acl)
        XCTAssertEqual(failure, "cannot load plugin \(acl): starling_plugin_init returned 1")
        try await log.wait(for: "option deny is required")
    }
}
