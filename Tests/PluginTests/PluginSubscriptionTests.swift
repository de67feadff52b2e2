import Foundation
import MQTTClient
import MQTTCore
import StarlingFFI
import XCTest
import StarlingTestSupport

/// `host->subscribe`/`unsubscribe`: a C plugin receives what real clients publish, skips its own
/// messages unless it asks, shares a `$share` group with a client, stops at unsubscribe and at
/// unload, and a reload under load delivers every message to exactly one version.
final class PluginSubscriptionTests: PluginTestCase, @unchecked Sendable {
    func testPluginReceivesClientMessagesUntilItUnsubscribes() async throws {
        let plugin = try buildServicesPlugin()
        try await startNode(plugins: [entry(plugin, name: "svc", ["subscribe": "sensors/+"])])
        try await log.wait(for: "bad filter -> -1, bad qos -> -1, bad name -> -1, bad signature -> -1, unknown timer -> -4")
        try await log.wait(for: "exported -> 0, again -> -1")

        let publisher = try await connect("pub")
        let watcher = try await connect("watcher")
        let inbox = Inbox(watcher)
        _ = try await watcher.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce)])
        try await publisher.publish("sensors/a", payload: "21", qos: .atLeastOnce)
        try await log.wait(for: "got sensors/a 21 qos 1 retain 0 from pub")
        try await publisher.publish("other/x", payload: "no", qos: .atLeastOnce)
        try await publisher.publish("sensors/b", payload: "22", qos: .atMostOnce, retain: true)
        try await log.wait(for: "got sensors/b 22 qos 0 retain 1 from pub")
        XCTAssertTrue(log.lines(containing: "got other/x").isEmpty, "a topic outside the filter")

        // Its own message reaches clients, not its own subscription (no OWN_MESSAGES flag).
        XCTAssertEqual(try call("svc", "publish_text", .string("sensors/own"), .string("mine")), .int64(0))
        try await inbox.wait(for: 4)
        XCTAssertTrue(inbox.texts.contains("mine"))
        try await publisher.publish("sensors/c", payload: "23", qos: .atLeastOnce)
        try await log.wait(for: "got sensors/c 23")
        XCTAssertTrue(log.lines(containing: "got sensors/own").isEmpty, "own message looped back")

        XCTAssertEqual(try call("svc", "unsubscribe_all"), .int64(0), "unsubscribe OK, then NOT_FOUND for the same id")
        try await publisher.publish("sensors/d", payload: "gone", qos: .atLeastOnce)
        try await inbox.wait(for: 6)
        try await settle(.milliseconds(200))
        XCTAssertTrue(log.lines(containing: "got sensors/d").isEmpty, "delivered after unsubscribe")
    }

    /// A message handed to a plugin's own subscription fires message_delivered like a client's
    /// delivery: once per message taken, naming the subscriber "plugin:NAME"; a message the
    /// plugin skips (its own) fires nothing.
    func testDeliveryToAPluginSubscriptionFiresMessageDelivered() async throws {
        let services = try buildServicesPlugin()
        let watcher = try PluginBuilder.build("Tests/PluginTests/Fixtures/message_hooks_plugin.c", into: directory,
                                              output: "watcher.so")
        try await startNode(plugins: [entry(services, name: "svc", ["subscribe": "sensors/+"]),
                                      entry(watcher, name: "watcher", ["notify": "1"])])
        let publisher = try await connect("pub")
        try await publisher.publish("sensors/a", payload: "21", qos: .atLeastOnce)
        try await log.wait(for: "got sensors/a 21 qos 1 retain 0 from pub")
        try await log.wait(for: "mh: delivered plugin:svc sensors/a qos 1 dup 0")
        try await publisher.publish("sensors/b", payload: "22", qos: .atMostOnce)
        try await log.wait(for: "mh: delivered plugin:svc sensors/b qos 0 dup 0")
        try await settle(.milliseconds(200))
        XCTAssertEqual(log.lines(containing: "mh: delivered plugin:svc").count, 2)
    }

    func testOwnMessagesWhenAskedFor() async throws {
        let plugin = try buildServicesPlugin()
        try await startNode(plugins: [entry(plugin, name: "svc", ["subscribe": "echo/#", "own": "1"])])
        XCTAssertEqual(try call("svc", "publish_text", .string("echo/self"), .string("loop")), .int64(0))
        try await log.wait(for: "got echo/self loop qos 1 retain 0 from (broker)")
    }

    func testUnloadEndsSubscriptionsBeforeCleanup() async throws {
        let plugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(plugin, name: "svc", ["subscribe": "feed/#"])])
        let publisher = try await connect("pub")
        try await publisher.publish("feed/1", payload: "one", qos: .atLeastOnce)
        try await log.wait(for: "got feed/1 one")
        try await node.plugins.unload(name: "svc")
        try await log.wait(for: "subscribe now -> -3")  // STARLING_ERR_STATE during cleanup
        let reply = try await publisher.publish("feed/2", payload: "two", qos: .atLeastOnce)
        XCTAssertEqual(reply?.reasonCode, .noMatchingSubscribers, "the plugin's subscription left the route table")
        try await settle(.milliseconds(100))
        XCTAssertTrue(log.lines(containing: "got feed/2").isEmpty)
    }

    func testSharedGroupSpreadsOverPluginAndClient() async throws {
        let plugin = try buildServicesPlugin()
        try await startNode(plugins: [entry(plugin, name: "svc", ["subscribe": "$share/workers/jobs/#"])])
        let worker = try await connect("worker")
        let inbox = Inbox(worker)
        _ = try await worker.subscribe([TopicSubscription(filter: "$share/workers/jobs/#", qos: .atLeastOnce)])
        let publisher = try await connect("pub")
        for index in 0..<10 { try await publisher.publish("jobs/\(index)", payload: "job\(index)", qos: .atLeastOnce) }
        try await waitUntil("10 jobs handed out") { self.log.lines(containing: "got jobs/").count + inbox.all.count >= 10 }
        try await settle(.milliseconds(100))
        let pluginJobs = log.lines(containing: "got jobs/").count
        XCTAssertEqual(pluginJobs + inbox.all.count, 10, "each job exactly once")
        XCTAssertEqual(pluginJobs, 5, "round robin over two members")
    }

    /// Publishers keep going while the plugin is reloaded: each message reaches exactly one version.
    func testReloadUnderLoadDeliversEachMessageOnce() async throws {
        let plugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(plugin, name: "svc", ["subscribe": "load/#"])])
        let publisher = try await connect("pub")
        let count = 300
        let publishing = Task {
            for index in 0..<count { try await publisher.publish("load/\(index)", payload: "m\(index)", qos: .atLeastOnce) }
        }
        for _ in 0..<5 {
            try await node.plugins.reload(name: "svc")
            try await Task.sleep(for: .milliseconds(20))
        }
        try await publishing.value
        do {
            try await waitUntil("every message seen") { self.log.lines(containing: "got load/").count >= count }
        } catch {
            XCTFail("\(error): \(log.lines(containing: "got load/").count) seen")
        }
        try await settle(.milliseconds(200))
        let seen = log.lines(containing: "got load/").compactMap { line in
            line.split(separator: " ").firstIndex(of: "got").map { line.split(separator: " ")[$0 + 1] }
        }
        XCTAssertEqual(seen.count, count, "no message twice")
        XCTAssertEqual(Set(seen).count, count, "no message lost")
    }
}
