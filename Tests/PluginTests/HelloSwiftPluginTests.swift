import Foundation
import XCTest
import StarlingTestSupport

/// plugins/hello-swift, built with swiftc as plugins/Makefile does: it exports the three entry
/// points only, loads, logs, counts clients and survives five reloads.
final class HelloSwiftPluginTests: PluginTestCase, @unchecked Sendable {
    func testExportsOnlyTheEntryPoints() throws {
        let plugin = try SwiftPluginBuilder.helloSwift()
        XCTAssertEqual(try SwiftPluginBuilder.exportedFunctions(plugin),
                       ["starling_plugin_cleanup", "starling_plugin_init", "starling_plugin_version"])
    }

    func testLoadsLogsAndReloadsFiveTimes() async throws {
        let plugin = try SwiftPluginBuilder.helloSwift()
        let node = try await startNode(plugins: [entry(plugin, ["greeting": "bonjour"])])
        try await log.wait(for: "bonjour from hello-swift (broker ")
        let first = try await connect("hello-1")
        try await log.wait(for: "client hello-1 connected (1 so far)")

        for _ in 0..<5 { try await node.plugins.reload(name: "hello-swift") }
        XCTAssertEqual(log.lines(containing: "bonjour from hello-swift").count, 6, "each version greets")
        XCTAssertEqual(log.lines(containing: "goodbye from hello-swift after").count, 5, "each old version says goodbye")
        XCTAssertEqual(log.lines(containing: "goodbye from hello-swift after 1 connections").count, 1)

        _ = try await connect("hello-2")
        try await log.wait(for: "client hello-2 connected (1 so far)")  // the new copy counts afresh
        XCTAssertTrue(first.isActive, "a reload drops nobody")
        try await node.plugins.unload(name: "hello-swift")
        try await log.wait(for: "goodbye from hello-swift after 1 connections")
        XCTAssertEqual(log.lines(containing: "goodbye from hello-swift after 1 connections").count, 2)
    }
}
