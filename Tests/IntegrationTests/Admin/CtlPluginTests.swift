import Foundation
import MQTTClient
import MQTTCore
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// `starling ctl plugins list|show|load|unload|reload`, the built binary, against an in-process node.
extension CtlTests {
    func testPluginsLoadListShowReloadUnload() async throws {
        let path = try PluginBuilder.testPlugin(into: directory, output: "ctl-acl.so")
        let empty = try await ctl("plugins", "list")
        assertSuccess(empty)
        XCTAssertEqual(empty.stdout, "no plugins\n")

        let load = try await ctl("plugins", "load", path, "--name", "acl", "--option", "deny_publish=blocked/",
                                 "--option", "priority=3")
        assertSuccess(load)
        XCTAssertEqual(load.stdout, "loaded plugin acl\n")
        let client = try await connect("ctl-plugin-client")
        let denied = try await client.mqtt.publish("blocked/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)

        let list = try await ctl("plugins", "list")
        assertSuccess(list)
        XCTAssertEqual(list.stdout, """
            NAME  STATE   ABI  HOOKS                PATH
            acl   loaded  1.0  authorize_publish:3  \(path)

            """)
        let json = try await ctl("plugins", "list", "--json")
        assertSuccess(json)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        XCTAssertEqual(decoded.items.first?["name"]?.string, "acl")

        let show = try await ctl("plugins", "show", "acl")
        assertSuccess(show)
        XCTAssertTrue(show.stdout.hasPrefix("name         acl\nstate        loaded\npath         \(path)\nloaded_copy  "), show.stdout)
        XCTAssertTrue(show.stdout.hasSuffix("""
            abi_version  1
            abi_minor    0
            hooks        authorize_publish:3
            functions    -

            OPTION        VALUE
            deny_publish  blocked/
            priority      3

            """), show.stdout)

        let showJSON = try await ctl("plugins", "show", "acl", "--json")
        assertSuccess(showJSON)
        let plugin = try JSONDecoder().decode(JSONValue.self, from: Data(showJSON.stdout.utf8))
        XCTAssertEqual(plugin["hooks"]?[0]?["priority"]?.int, 3)
        XCTAssertEqual(plugin["options"]?["deny_publish"]?.string, "blocked/")

        let reload = try await ctl("plugins", "reload", "acl")
        assertSuccess(reload)
        XCTAssertEqual(reload.stdout, "reloaded plugin acl\n")
        XCTAssertTrue(client.mqtt.isActive, "a reload drops no client")

        let unload = try await ctl("plugins", "unload", "acl")
        assertSuccess(unload)
        XCTAssertEqual(unload.stdout, "unloaded plugin acl\n")
        let allowed = try await client.mqtt.publish("blocked/2", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(allowed?.reasonCode, .noMatchingSubscribers)
    }

    func testPluginsFailures() async throws {
        let missing = directory.appendingPathComponent("nowhere.so").path
        assertFailure(try await ctl("plugins", "load", missing), "cannot load plugin \(missing): no such file (HTTP 400)")
        assertFailure(try await ctl("plugins", "load", missing, "--option", "novalue"), "--option novalue: expected KEY=VALUE")
        assertFailure(try await ctl("plugins", "show", "ghost"), "no plugin named ghost is loaded (HTTP 404)")
        assertFailure(try await ctl("plugins", "unload", "ghost"), "no plugin named ghost is loaded (HTTP 404)")
        assertFailure(try await ctl("plugins", "reload", "ghost", "--json"), "no plugin named ghost is loaded (HTTP 404)")
    }
}
