import Foundation
import MQTTClient
import MQTTCore
import StarlingPlugins
import XCTest
import StarlingTestSupport

/// Load, unload and reload while the node runs: in-flight calls drain before cleanup, reloads
/// leave no gap, C images unload cleanly (copies removed, memory flat), and a plugin built
/// against the frozen v1 header still works.
final class PluginLifecycleTests: PluginTestCase, @unchecked Sendable {
    /// Unload while a callback sleeps inside the plugin: unload waits for it, cleanup comes after
    /// it, and then the hook is gone.
    func testUnloadWaitsForTheCallInFlightThenTheHooksAreGone() async throws {
        let plugin = try buildTestPlugin()
        let node = try await startNode(plugins: [entry(plugin, ["sleep_ms": "200"])])
        let client = try await connect("slowpoke")
        let publishing = Task { try await client.publish("slow/1", payload: "x", qos: .atLeastOnce) }
        try await log.wait(for: "sleeping in authorize_publish for slow/1")

        let started = ContinuousClock.now
        try await node.plugins.unload(name: "test-plugin")
        let waited = ContinuousClock.now - started
        let slept = try XCTUnwrap(log.index(of: "slept in authorize_publish for slow/1"))
        let cleanup = try XCTUnwrap(log.index(of: "test: cleanup"))
        XCTAssertLessThan(slept, cleanup, "cleanup ran while a callback was still inside the plugin")
        XCTAssertGreaterThan(waited, .milliseconds(100), "unload returned without waiting for the call")
        let ack = try await publishing.value
        XCTAssertEqual(ack?.reasonCode, .noMatchingSubscribers)

        let quick = ContinuousClock.now
        _ = try await client.publish("slow/2", payload: "x", qos: .atLeastOnce)
        XCTAssertLessThan(ContinuousClock.now - quick, .milliseconds(150))
        XCTAssertNil(log.index(of: "slow/2"), "an unloaded plugin's hook was called")
        XCTAssertEqual(node.broker.hooks.chains.count, 0)
        let listed = await node.plugins.list()
        XCTAssertEqual(listed.count, 0)
    }

    /// 50 load/unload cycles and 50 reloads of a C plugin: no crash, every copy removed, the hooks
    /// of the last version work, and resident memory stays flat.
    func testLoadUnloadAndReloadFiftyTimesKeepMemoryFlat() async throws {
        let plugin = try buildTestPlugin()
        let node = try await startNode()
        let options = [PluginOption(key: "notify", value: "1"), PluginOption(key: "deny_publish", value: "never/")]
        for _ in 0..<5 {  // warm up allocator and loader caches
            try await node.plugins.load(path: plugin, options: options)
            try await node.plugins.unload(name: "test-plugin")
        }
        let before = residentBytes()
        for _ in 0..<50 {
            try await node.plugins.load(path: plugin, options: options)
            try await node.plugins.unload(name: "test-plugin")
        }
        try await node.plugins.load(path: plugin, options: options)
        for _ in 0..<50 { try await node.plugins.reload(name: "test-plugin") }
        let after = residentBytes()

        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: copiesDirectory.path).count, 1,
                       "only the loaded version's copy remains")
        XCTAssertLessThan(after - before, 8 << 20, "RSS grew by \((after - before) >> 10) KiB over 150 loads")
        let client = try await connect("after-reloads")
        try await log.wait(for: "connected after-reloads")
        let denied = try await client.publish("never/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        XCTAssertEqual(node.broker.hooks.chains.count, 3, "one version's hooks, not those of 51 versions")
    }

    /// Reloading a deny plugin 20 times while a client publishes into the denied topic: every
    /// message is refused, none is delivered.
    func testReloadLeavesNoGapInAuthorization() async throws {
        let plugin = try buildTestPlugin()
        let node = try await startNode(plugins: [entry(plugin, ["deny_publish": "guarded/"])])
        let subscriber = try await connect("guard-watch")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "guarded/#", qos: .atLeastOnce)])
        let publisher = try await connect("guard-pub")
        let publishing = Task { () -> [ReasonCode?] in
            var codes: [ReasonCode?] = []
            while !Task.isCancelled {
                codes.append(try await publisher.publish("guarded/x", payload: "leak", qos: .atLeastOnce)?.reasonCode)
            }
            return codes
        }
        for _ in 0..<20 { try await node.plugins.reload(name: "test-plugin") }
        publishing.cancel()
        let codes = try await publishing.value
        XCTAssertGreaterThan(codes.count, 0)
        XCTAssertEqual(Set(codes.map { $0 ?? .success }), [.notAuthorized])
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.all.count, 0, "a message passed during a reload")
    }

    /// A reload whose new file does not load leaves the old version in force.
    func testFailedReloadKeepsTheOldVersion() async throws {
        let plugin = try buildTestPlugin()
        let node = try await startNode(plugins: [entry(plugin, ["deny_publish": "kept/"])])
        try "not a plugin any more".write(toFile: plugin, atomically: true, encoding: .utf8)
        do {
            try await node.plugins.reload(name: "test-plugin")
            XCTFail("reloaded a text file")
        } catch {
            XCTAssertEqual(error.kind, .notASharedObject)
        }
        let client = try await connect("kept")
        let ack = try await client.publish("kept/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .notAuthorized)
        XCTAssertNil(log.index(of: "test: cleanup"))
    }

    /// A plugin compiled against the frozen copy of the v1 header loads and works.
    func testPluginBuiltAgainstTheFrozenV1HeaderWorks() async throws {
        let frozen = PluginBuilder.fixtures.appendingPathComponent("abi-v1")
        let plugin = try PluginBuilder.testPlugin(into: directory, output: "v1-plugin.so", include: frozen)
        try await startNode(plugins: [entry(plugin, ["users": "alice:secret", "deny_publish": "old/", "notify": "1"])])
        try await log.wait(for: "test: init abi  1.4")  // a 1.0 plugin is told the broker's minor, 4
        let client = try await connect("v1-client", username: "alice", password: "secret")
        try await log.wait(for: "connected v1-client protocol 5")
        let denied = try await client.publish("old/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        let wrong = try await refusal("v1-wrong", username: "alice", password: "nope")
        XCTAssertEqual(wrong, .badUserNameOrPassword)
    }

    /// A plugin built against the frozen 1.0 header that returns 3 - not a decision in 1.0 -
    /// is denied and logged, not taken as PENDING (which 3 means since 1.2): the client gets its
    /// PUBACK 0x87 at once, with no ticket opened and no timeout waited for.
    func testThreeFromAPluginOfABI10IsAnInvalidValueNotPending() async throws {
        let frozen = PluginBuilder.fixtures.appendingPathComponent("abi-v1")
        let plugin = try PluginBuilder.testPlugin(into: directory, output: "v1-three.so", include: frozen)
        try await startNode(plugins: [entry(plugin, ["publish_result": "3"])]) { $0.settings.pendingTimeout = 30 }
        let declared = try await node.plugins.list().first?.abiMinor
        XCTAssertEqual(declared, 0)
        let client = try await connect("v1-three")
        let start = ContinuousClock.now
        let denied = try await client.publish("any/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "denied at once, not after pending_timeout")
        XCTAssertEqual(try node.broker.hooks.openTickets, 0)
        try await log.wait(for: "returned 3 from its authorize_publish callback, which is not ALLOW (1), DENY (2) or "
                                + "IGNORE (0) (PENDING needs a plugin that declares ABI 1.2 with starling_plugin_abi_minor): "
                                + "counted as DENY")
        XCTAssertTrue(client.isActive)
    }

    /// The same source built against the current header and declaring minor 2: its 3 is PENDING
    /// (never completed here, so pending_timeout denies) - the declaration is what tells them apart.
    func testThreeFromAPluginDeclaringMinor2IsPending() async throws {
        let plugin = try PluginBuilder.build("Tests/PluginTests/Fixtures/test_plugin.c", into: directory,
                                             output: "v12-three.so",
                                             extraFlags: ["-D_POSIX_C_SOURCE=200809L", "-DTEST_PLUGIN_MINOR=2"])
        try await startNode(plugins: [entry(plugin, name: "declared", ["publish_result": "3"])]) {
            $0.settings.pendingTimeout = 1
        }
        let declared = try await node.plugins.list().first?.abiMinor
        XCTAssertEqual(declared, 2)
        let client = try await connect("v12-three")
        let publishing = Task { try await client.publish("any/1", payload: "x", qos: .atLeastOnce) }
        try await waitUntil("a ticket is open") { try self.node.broker.hooks.openTickets == 1 }
        let denied = try await publishing.value
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        try await log.wait(for: "plugin declared did not answer its authorize_publish hook within 1 s")
        XCTAssertTrue(log.lines(containing: "returned 3 from").isEmpty)
    }

    /// A negative declared minor fails the load, saying so.
    func testANegativeDeclaredMinorFailsTheLoad() async throws {
        let plugin = try PluginBuilder.build("Tests/PluginTests/Fixtures/test_plugin.c", into: directory,
                                             output: "negative-minor.so",
                                             extraFlags: ["-D_POSIX_C_SOURCE=200809L", "-DTEST_PLUGIN_MINOR=-1"])
        try await startNode()
        let message = try await loadFailure(plugin)
        XCTAssertEqual(message, "cannot load plugin \(plugin): starling_plugin_abi_minor returned -1; a minor version is 0 or more")
    }

    /// This process's resident memory, from /proc/self/statm.
    private func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
        let pages = Int(statm.split(separator: " ")[1]) ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
