import Foundation
import MQTTCore
import StarlingPlugins
import StarlingServer
import XCTest
import StarlingTestSupport

/// The gallery of broken plugins: each fails its load with a message naming its path and the
/// fault, leaves no copy behind, and the node goes on serving.
final class BadPluginTests: PluginTestCase, @unchecked Sendable {
    /// Loads `path` into the running node, expecting `kind`; returns the message.
    private func loadFailure(_ path: String, _ options: [PluginOption] = [], kind: PluginError.Kind,
                             file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        let plugins = try node.plugins
        do {
            try await plugins.load(path: path, options: options)
            XCTFail("\(path) loaded", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
            XCTAssertTrue(error.message.hasPrefix("cannot load plugin \(path): "), error.message, file: file, line: line)
            let copies = (try? FileManager.default.contentsOfDirectory(atPath: copiesDirectory.path)) ?? []
            XCTAssertEqual(copies, [], "copies left behind", file: file, line: line)
            XCTAssertEqual(try node.broker.hooks.chains.count, 0, "hooks left behind", file: file, line: line)
            return error.message
        }
    }

    private func assertStillServing(file: StaticString = #filePath, line: UInt = #line) async throws {
        let client = try await connect("still-serving-\(UUID().uuidString.prefix(8))")
        let ack = try await client.publish("serving/check", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .noMatchingSubscribers, file: file, line: line)
        await client.closeAbruptly()
    }

    func testMissingFile() async throws {
        try await startNode()
        let path = directory.appendingPathComponent("nowhere.so").path
        let message = try await loadFailure(path, kind: .fileMissing)
        XCTAssertEqual(message, "cannot load plugin \(path): no such file")
        try await assertStillServing()
    }

    func testTextFileNamedSoIsNotASharedObject() async throws {
        try await startNode()
        let path = directory.appendingPathComponent("notes.so").path
        try "this is not an ELF file, just words\n".write(toFile: path, atomically: true, encoding: .utf8)
        let message = try await loadFailure(path, kind: .notASharedObject)
        XCTAssertTrue(message.contains("not a loadable shared object"), message)
        XCTAssertTrue(message.contains("invalid ELF header") || message.contains("file too short"), message)
        try await assertStillServing()
    }

    func testMissingEntryPoints() async throws {
        try await startNode()
        let path = try PluginBuilder.build("Tests/PluginTests/Fixtures/missing_entry_points.c", into: directory,
                                           output: "missing.so")
        let message = try await loadFailure(path, kind: .missingEntryPoints)
        XCTAssertTrue(message.contains("missing entry points starling_plugin_init, starling_plugin_cleanup"), message)
        try await assertStillServing()
    }

    func testWrongABIVersionNamesBothVersionsAndRunsNothing() async throws {
        try await startNode()
        let path = try PluginBuilder.build("Tests/PluginTests/Fixtures/wrong_abi_version.c", into: directory,
                                           output: "future.so")
        let message = try await loadFailure(path, kind: .abiVersionMismatch)
        XCTAssertTrue(message.hasSuffix("it was built for plugin ABI version 99, this broker serves version 1"), message)
        XCTAssertNil(log.index(of: "init ran"))
        try await assertStillServing()
    }

    /// A failing init: its value is named, cleanup is not called, and the hooks it registered never run.
    func testInitFailingNamesItsReturnValueAndLeavesNoHook() async throws {
        try await startNode()
        let path = try buildTestPlugin()
        let message = try await loadFailure(path, [PluginOption(key: "init_result", value: "7"),
                                                   PluginOption(key: "deny_publish", value: "serving/")],
                                            kind: .initFailed)
        XCTAssertTrue(message.hasSuffix("starling_plugin_init returned 7"), message)
        XCTAssertNil(log.index(of: "test: cleanup"))
        try await assertStillServing()  // its deny_publish hook is not in force
    }

    /// A callback answering something that is not a decision counts as DENY, and is logged.
    func testCallbackReturningGarbageCountsAsDenyAndIsLogged() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["publish_result": "42"])])
        let subscriber = try await connect("garbage-sub")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "garbage/#", qos: .atLeastOnce)])
        let publisher = try await connect("garbage-pub")
        let ack = try await publisher.publish("garbage/1", payload: "never", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .notAuthorized)
        try await log.wait(for: "plugin test-plugin returned 42 from its authorize_publish callback, which is not ALLOW (1), DENY (2) or IGNORE (0): counted as DENY")
        try await settle(.milliseconds(200))
        XCTAssertEqual(inbox.all.count, 0)
    }

    func testNameTakenAndUnknownName() async throws {
        let plugin = try buildTestPlugin()
        let plugins = try await startNode(plugins: [entry(plugin)]).plugins
        do {
            try await plugins.load(path: plugin)
            XCTFail("loaded twice under one name")
        } catch {
            XCTAssertEqual(error.kind, .invalidName)
            XCTAssertTrue(error.message.contains("a plugin named test-plugin is already loaded (from \(plugin))"), error.message)
        }
        do {
            try await plugins.unload(name: "nobody")
            XCTFail("unloaded a plugin never loaded")
        } catch {
            XCTAssertEqual(error.kind, .notLoaded)
            XCTAssertEqual(error.message, "no plugin named nobody is loaded (loaded: test-plugin)")
        }
    }

    /// A broken plugin in the configuration stops start-up (exit status 2, the path named), or is
    /// skipped when `plugin_loader.on_error = skip`.
    func testBrokenPluginAtStartUpStopsTheNodeOrIsSkipped() async throws {
        let missing = directory.appendingPathComponent("gone.so").path
        do {
            try await startNode(plugins: [entry(missing)])
            XCTFail("the node started")
        } catch let error as NodeStartError {
            XCTAssertEqual(error.exitCode, 2)
            XCTAssertEqual(error.message, "cannot load plugin \(missing): no such file")
        }
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(missing), entry(plugin, ["notify": "1"])]) { $0.pluginLoader.onError = .skip }
        let loaded = try await node.plugins.list()
        XCTAssertEqual(loaded.map(\.name), ["test-plugin"])
        try await log.wait(for: "cannot load plugin \(missing): no such file; skipped (plugin_loader.on_error = skip)")
        try await assertStillServing()
    }
}
