import MQTTClient
import MQTTCore
import StarlingKernel
import XCTest
import StarlingTestSupport

/// The authorize hooks through real clients: a denied PUBLISH is answered 0x87 (5.0) or
/// acknowledged and dropped (3.1.1) and never delivered; a denied filter gets SUBACK 0x87/0x80;
/// QoS downgrades; `authorization.no_match`.
final class AuthorizationHookTests: PluginTestCase, @unchecked Sendable {
    func testDeniedPublishIsRefusedAndNeverDelivered() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["deny_publish": "blocked/"])])
        let subscriber = try await connect("watcher")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "#", qos: .exactlyOnce)])

        let new = try await connect("pub-5")
        let qos1 = try await new.publish("blocked/1", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(qos1?.reasonCode, .notAuthorized)
        let qos2 = try await new.publish("blocked/2", payload: "no", qos: .exactlyOnce)
        XCTAssertEqual(qos2?.reasonCode, .notAuthorized, "PUBREC 0x87 ends the flow")
        try await new.publish("blocked/0", payload: "no", qos: .atMostOnce)
        let old = try await connect("pub-3", version: .v3_1_1)
        let oldAck = try await old.publish("blocked/3", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(oldAck?.reasonCode, .success, "3.1.1 cannot be told: acknowledged and dropped")
        let oldQoS2 = try await old.publish("blocked/4", payload: "no", qos: .exactlyOnce)
        XCTAssertNotNil(oldQoS2)

        try await new.publish("open/1", payload: "yes", qos: .atLeastOnce)
        try await old.publish("open/2", payload: "yes too", qos: .atLeastOnce)
        try await inbox.wait(for: 2)
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.texts.sorted(), ["yes", "yes too"])
        XCTAssertTrue(new.isActive && old.isActive, "a refused message does not close the connection")
    }

    func testDeniedSubscriptionGets0x87AndTheOthersAreGranted() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["deny_subscribe": "private/", "subscribe_max_qos": "1"])])
        let new = try await connect("sub-5")
        let newAck = try await new.subscribe([TopicSubscription(filter: "private/x", qos: .atLeastOnce),
                                              TopicSubscription(filter: "news/#", qos: .exactlyOnce),
                                              TopicSubscription(filter: "weather", qos: .atMostOnce)])
        XCTAssertEqual(newAck.reasonCodes, [.notAuthorized, .grantedQoS1, .success])
        let old = try await connect("sub-3", version: .v3_1_1)
        let oldAck = try await old.subscribe([TopicSubscription(filter: "private/y", qos: .atMostOnce),
                                              TopicSubscription(filter: "news/x", qos: .exactlyOnce)])
        XCTAssertEqual(oldAck.reasonCodes.map(\.rawValue), [0x80, 0x01])
    }

    /// ABI 1.3: the authorize events carry the client's address, "IP:PORT" with its length; a
    /// plugin built against the frozen v1 header (which lacks the field) still works.
    func testAuthorizeEventsCarryThePeerAddress() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["log_peers": "1"])])
        let client = try await connect("addressed")
        _ = try await client.subscribe([TopicSubscription(filter: "where/#", qos: .atMostOnce)])
        _ = try await client.publish("where/1", payload: "x", qos: .atLeastOnce)
        for hook in ["authorize_subscribe", "authorize_publish"] {
            let line = try await log.wait(for: "\(hook) peer 127.0.0.1:")
            let parts = line.components(separatedBy: " peer ")[1].components(separatedBy: " length ")
            XCTAssertEqual(parts.count, 2, line)
            XCTAssertEqual(Int(parts[1]), parts[0].utf8.count, "the length is the address's: \(line)")
            XCTAssertNotNil(Int(parts[0].split(separator: ":").last ?? ""), "IP:PORT: \(line)")
        }
    }

    /// `authorization.no_match = deny`: what no plugin allows is refused; with the default (allow)
    /// it passes.
    func testAuthorizationNoMatch() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["allow_publish": "ok/"])]) {
            $0.settings.authorization.noMatch = .deny
        }
        let client = try await connect("strict")
        let allowed = try await client.publish("ok/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(allowed?.reasonCode, .noMatchingSubscribers)
        let refused = try await client.publish("other/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(refused?.reasonCode, .notAuthorized)
        // No subscribe hook is loaded: no_match decides every filter.
        let subAck = try await client.subscribe([TopicSubscription(filter: "ok/#", qos: .atLeastOnce)])
        XCTAssertEqual(subAck.reasonCodes, [.notAuthorized])
        let counted = try node.broker.stats.authorizations
        XCTAssertEqual(counted["publish"], ["allow": 1, "deny": 1])
        XCTAssertEqual(counted["subscribe"], ["allow": 0, "deny": 1])
        await stopNode()

        try await startNode(plugins: [entry(plugin, ["allow_publish": "ok/"])])
        let relaxed = try await connect("relaxed")
        let passes = try await relaxed.publish("other/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(passes?.reasonCode, .noMatchingSubscribers)
    }
}
