import Foundation
import XCTest
import StarlingTestSupport

/// A plugin written in Swift against the same header: it loads, and unloading or reloading it
/// never unmaps its image (the loader opens Swift images RTLD_NODELETE), so later protocol
/// conformance lookups anywhere in the process keep working.
final class SwiftPluginTests: PluginTestCase, @unchecked Sendable {
    func testSwiftPluginLoadsAndSurvivesUnloadAndReload() async throws {
        let plugin = directory.appendingPathComponent("swift-plugin.so").path
        try PluginBuilder.run("swiftc", ["-emit-library", "-parse-as-library", "-module-name", "SwiftPlugin",
                                         "-I", PluginBuilder.include.path, "-o", plugin,
                                         PluginBuilder.fixtures.appendingPathComponent("swift_plugin.swift").path])
        let node = try await startNode(plugins: [entry(plugin, ["a": "1", "b": "2"])])
        try await log.wait(for: "hello from swift with 2 options")
        for _ in 0..<5 { try await node.plugins.reload(name: "swift-plugin") }
        try await node.plugins.unload(name: "swift-plugin")

        // A conformance never looked up before makes the runtime scan every image's records.
        let fresh: Any = Marker()
        XCTAssertEqual((fresh as? CustomDebugStringConvertible)?.debugDescription, "marker")
        XCTAssertEqual(log.lines(containing: "hello from swift with 2 options").count, 6)
        _ = try await connect("after-swift")
    }
}

private struct Marker: CustomDebugStringConvertible {
    var debugDescription: String { "marker" }
}
