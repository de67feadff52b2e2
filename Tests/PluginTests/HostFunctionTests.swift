import Foundation
import MQTTClient
import MQTTCore
import XCTest

/// The notifications and what plugins can do: client connected/disconnected events with who
/// ended the connection, publish and kick, and the register_hook rules.
final class HostFunctionTests: PluginTestCase, @unchecked Sendable {
    func testConnectedAndDisconnectedEventsTellWhoEndedTheConnection() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["notify": "1"])])
        let polite = try await connect("polite")
        try await log.wait(for: "connected polite protocol 5 keepalive 60")
        try await polite.disconnect()
        try await log.wait(for: "disconnected polite initiator 1 reason 0")

        let abrupt = try await connect("abrupt", version: .v3_1_1)
        try await log.wait(for: "connected abrupt protocol 4")
        await abrupt.closeAbruptly()
        try await log.wait(for: "disconnected abrupt initiator 3 reason 0")

        _ = try await connect("taken")
        _ = try await connect("taken")
        try await log.wait(for: "disconnected taken initiator 2 reason 142")  // 0x8E session taken over
    }

    /// `register_hook` answers ERR_UNSUPPORTED for an unknown hook and ERR_STATE after init.
    func testRegisterHookRules() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["notify": "1"])])
        try await log.wait(for: "register unknown hook ->  -2")
        _ = try await connect("late")
        try await log.wait(for: "late register_hook ->  -3")
    }

    /// `host->publish` from a hook routes a message; `host->kick` disconnects a client (5.0: 0x98).
    func testPublishAndKickFromAPlugin() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["connect_publish": "joined", "kick_topic": "kick/me"])])
        let watcher = try await connect("watcher")
        let inbox = Inbox(watcher)
        _ = try await watcher.subscribe([TopicSubscription(filter: "joined", qos: .atLeastOnce)])
        let newcomer = try await connect("newcomer")
        try await log.wait(for: "publish ->  0")
        let texts = try await inbox.wait(for: 1)
        XCTAssertEqual(texts.last, "newcomer")

        try await newcomer.publish("kick/me", payload: "bye", qos: .atMostOnce)
        let disconnect = try await newcomer.waitForClose(timeout: .seconds(5))
        XCTAssertEqual(disconnect?.reasonCode, .administrativeAction)
        try await log.wait(for: "kick newcomer -> 0")
        try await log.wait(for: "disconnected newcomer initiator 2 reason 152")
    }
}
