import Foundation
import MQTTClient
import MQTTCore
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// `/api/v1/plugins`: load a C plugin built at test time, see its hook act on a real client, list
/// and show it, reload it under a connected client, unload it; refusals are 400s naming the
/// fault, unknown names 404s, and the node keeps serving.
final class AdminPluginTests: AdminTestCase, @unchecked Sendable {
    /// Builds the option-driven test plugin into the test's directory.
    func buildTestPlugin(_ output: String = "test-plugin.so") throws -> String {
        try PluginBuilder.testPlugin(into: directory, output: output)
    }

    /// `POST /api/v1/plugins` with `body`.
    func load(_ body: String) async throws -> AdminClientResponse {
        try await request(.POST, "/api/v1/plugins", json: body)
    }

    func testLoadDeniesThenListShowReloadUnload() async throws {
        let path = try buildTestPlugin()
        let client = try await connect("plugin-watched")
        let before = try await client.mqtt.publish("blocked/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(before?.reasonCode, .noMatchingSubscribers)

        let loaded = try await load(#"{"path": "\#(path)", "name": "acl", "options": {"deny_publish": "blocked/", "priority": "7"}}"#)
        XCTAssertEqual(loaded.status, .created, loaded.text)
        XCTAssertEqual(loaded.json?["name"]?.string, "acl")
        XCTAssertEqual(loaded.json?["path"]?.string, path)
        XCTAssertEqual(loaded.json?["state"]?.string, "loaded")
        XCTAssertEqual(loaded.json?["abi_version"]?.int, 1)
        XCTAssertEqual(loaded.json?["abi_minor"]?.int, 0, "test_plugin.c declares no minor")
        XCTAssertEqual(loaded.json?["options"], .object(["deny_publish": .string("blocked/"), "priority": .string("7")]))
        XCTAssertEqual(loaded.json?["hooks"], .array([.object(["hook": .string("authorize_publish"), "priority": .int(7)])]))
        let firstCopy = try XCTUnwrap(loaded.json?["loaded_copy"]?.string)
        XCTAssertTrue(firstCopy.hasPrefix(directory.appendingPathComponent("data/plugins/acl-").path), firstCopy)

        let denied = try await client.mqtt.publish("blocked/2", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized, "PUBACK 0x87 once the plugin is loaded")

        let list = try await get("/api/v1/plugins")
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.items.first, loaded.json)
        let shown = try await get("/api/v1/plugins/acl")
        XCTAssertEqual(shown, loaded.json)

        let reloaded = try await request(.POST, "/api/v1/plugins/acl/reload")
        XCTAssertEqual(reloaded.status, .ok, reloaded.text)
        XCTAssertEqual(reloaded.json?["options"], loaded.json?["options"])
        XCTAssertNotEqual(reloaded.json?["loaded_copy"]?.string, firstCopy, "a new copy is mapped")
        XCTAssertTrue(client.mqtt.isActive, "a reload drops no client")
        let stillDenied = try await client.mqtt.publish("blocked/3", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(stillDenied?.reasonCode, .notAuthorized)

        let unloaded = try await request(.DELETE, "/api/v1/plugins/acl")
        XCTAssertEqual(unloaded.status, .noContent, unloaded.text)
        XCTAssertTrue(unloaded.body.isEmpty)
        let allowed = try await client.mqtt.publish("blocked/4", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(allowed?.reasonCode, .noMatchingSubscribers, "the deny is gone")
        let emptied = try await get("/api/v1/plugins")
        XCTAssertEqual(emptied.count, 0)
        XCTAssertTrue(client.mqtt.isActive)
    }

    func testRefusedPluginsAre400NamingTheFault() async throws {
        let missing = directory.appendingPathComponent("nowhere.so").path
        assertError(try await load(#"{"path": "\#(missing)"}"#), .badRequest, code: "BAD_REQUEST",
                    messageStartsWith: "cannot load plugin \(missing): no such file")
        let wrongABI = try PluginBuilder.fixture("wrong_abi_version", into: directory, output: "wrong-abi.so")
        assertError(try await load(#"{"path": "\#(wrongABI)"}"#), .badRequest,
                    messageStartsWith: "cannot load plugin \(wrongABI): it was built for plugin ABI version 99")
        let failingInit = try buildTestPlugin()
        assertError(try await load(#"{"path": "\#(failingInit)", "options": {"init_result": "5"}}"#), .badRequest,
                    messageStartsWith: "cannot load plugin \(failingInit): starling_plugin_init returned 5")
        assertError(try await load(#"{"name": "x"}"#), .badRequest, messageStartsWith: "path: required")
        assertError(try await load(#"{"path": "\#(failingInit)", "colour": 1}"#), .badRequest, messageStartsWith: "colour: unknown field")
        assertError(try await load(#"{"path": "\#(failingInit)", "options": {"a": 1}}"#), .badRequest,
                    messageStartsWith: "options.a: expected a string")
        assertError(try await load(#"{"path": "\#(failingInit)", "name": "bad/name"}"#), .badRequest,
                    messageStartsWith: "cannot load plugin \(failingInit): invalid plugin name")
        let none = try await get("/api/v1/plugins")
        XCTAssertEqual(none.count, 0)

        // The node keeps serving.
        let client = try await connect("after-refusals")
        let ack = try await client.mqtt.publish("any/topic", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .noMatchingSubscribers)
    }

    func testAFailedReloadKeepsTheOldVersion() async throws {
        let path = try buildTestPlugin("acl.so")
        let loaded = try await load(#"{"path": "\#(path)", "options": {"deny_publish": "blocked/"}}"#)
        XCTAssertEqual(loaded.status, .created, loaded.text)
        assertError(try await load(#"{"path": "\#(path)"}"#), .badRequest,
                    messageStartsWith: "cannot load plugin \(path): a plugin named acl is already loaded")
        // The file is replaced by a build for another ABI: the reload is refused, the old one stays.
        _ = try PluginBuilder.fixture("wrong_abi_version", into: directory, output: "acl.so")
        let client = try await connect("kept")
        assertError(try await request(.POST, "/api/v1/plugins/acl/reload"), .badRequest,
                    messageStartsWith: "cannot load plugin \(path): it was built for plugin ABI version 99")
        let kept = try await get("/api/v1/plugins/acl")
        XCTAssertEqual(kept, loaded.json)
        let denied = try await client.mqtt.publish("blocked/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized, "the old version is still in force")
    }

    /// DELETE answers once the call inside the plugin's hook has returned.
    func testUnloadWaitsForTheCallInFlight() async throws {
        let path = try buildTestPlugin()
        let loaded = try await load(#"{"path": "\#(path)", "name": "slow", "options": {"sleep_ms": "500"}}"#)
        XCTAssertEqual(loaded.status, .created, loaded.text)
        let client = try await connect("slowpoke")
        let started = ContinuousClock.now
        let publishing = Task { try await client.mqtt.publish("slow/1", payload: "x", qos: .atLeastOnce) }
        try await Task.sleep(for: .milliseconds(100))
        let unloaded = try await request(.DELETE, "/api/v1/plugins/slow")
        XCTAssertEqual(unloaded.status, .noContent, unloaded.text)
        XCTAssertGreaterThan(ContinuousClock.now - started, .milliseconds(450), "DELETE answered while the hook still ran")
        let ack = try await publishing.value
        XCTAssertEqual(ack?.reasonCode, .noMatchingSubscribers)
        let quick = ContinuousClock.now
        _ = try await client.mqtt.publish("slow/2", payload: "x", qos: .atLeastOnce)
        XCTAssertLessThan(ContinuousClock.now - quick, .milliseconds(300), "an unloaded plugin's hook was called")
    }

    func testUnknownPluginsAre404() async throws {
        assertError(try await request(.GET, "/api/v1/plugins/ghost"), .notFound, code: "NOT_FOUND", messageStartsWith: "no plugin named ghost is loaded")
        assertError(try await request(.DELETE, "/api/v1/plugins/ghost"), .notFound, messageStartsWith: "no plugin named ghost is loaded")
        assertError(try await request(.POST, "/api/v1/plugins/ghost/reload"), .notFound, messageStartsWith: "no plugin named ghost is loaded")
    }
}
