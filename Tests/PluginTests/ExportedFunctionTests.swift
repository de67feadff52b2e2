import Foundation
import StarlingFFI
import StarlingPlugins
import XCTest

/// Functions exported by a C plugin and by a Swift plugin, called by name through libffi with
/// every argument type; wrong calls get a clear error; an unloaded plugin's functions are gone.
final class ExportedFunctionTests: PluginTestCase, @unchecked Sendable {
    func testCFunctionsOfEveryType() async throws {
        let plugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(plugin, name: "svc")])
        XCTAssertEqual(try call("svc", "add", .int64(2), .int64(40)), .int64(42))
        XCTAssertEqual(try call("svc", "add", .int64(Int64.max), .int64(-1)), .int64(Int64.max - 1))
        XCTAssertEqual(try call("svc", "scale", .double(1.5), .double(-4)), .double(-6))
        XCTAssertEqual(try call("svc", "negate", .bool(true)), .bool(false))
        XCTAssertEqual(try call("svc", "negate", .bool(false)), .bool(true))
        XCTAssertEqual(try call("svc", "greet", .string("bob")), .string("hello, bob"))
        XCTAssertEqual(try call("svc", "mixed", .int64(-7), .double(2.5), .bool(true), .string("x y")),
                       .string("i=-7 d=2.50 b=1 s=x y"))
        XCTAssertEqual(try call("svc", "touch"), .void)
        XCTAssertEqual(try call("svc", "touch"), .void)

        try assertCallErrors(plugin: "svc")
        try await node.plugins.unload(name: "svc")
        try await log.wait(for: "touched 2")
        XCTAssertEqual(try callFailure("svc", "add", .int64(1), .int64(2)), .notFound("no plugin named svc is loaded"))
    }

    /// Unloading waits for a call that is running inside the plugin; later calls find nothing.
    func testUnloadWaitsForACallInFlight() async throws {
        let plugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(plugin, name: "svc")])
        let functions = node.plugins.functions
        let call = Task.detached { try functions.call(plugin: "svc", function: "nap", arguments: [.int64(300)]) }
        try await Task.sleep(for: .milliseconds(50))
        try await node.plugins.unload(name: "svc")
        let result = try await call.value
        XCTAssertEqual(result, .int64(300))
        let napped = try XCTUnwrap(log.index(of: "nap done"))
        let cleaned = try XCTUnwrap(log.index(of: "cleanup after"))
        XCTAssertLessThan(napped, cleaned, "cleanup ran while a call was inside the plugin")
        XCTAssertEqual(try callFailure("svc", "nap", .int64(1)), .notFound("no plugin named svc is loaded"))
    }

    func testSwiftFunctionsOfEveryTypeAlsoFromAnotherPlugin() async throws {
        let swiftPlugin = try buildSwiftServicesPlugin()
        let cPlugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(swiftPlugin, name: "swift-svc"), entry(cPlugin, name: "svc")])
        try await log.wait(for: "swift exported -> 0")
        XCTAssertEqual(try call("swift-svc", "add", .int64(20), .int64(22)), .int64(42))
        XCTAssertEqual(try call("swift-svc", "scale", .double(0.5), .double(3)), .double(1.5))
        XCTAssertEqual(try call("swift-svc", "negate", .bool(false)), .bool(true))
        XCTAssertEqual(try call("swift-svc", "greet", .string("ann")), .string("hi from swift, ann"))
        XCTAssertEqual(try call("swift-svc", "mixed", .int64(3), .double(0.25), .bool(false), .string("z")),
                       .string("swift i=3 d=0.25 b=false s=z"))
        try assertCallErrors(plugin: "swift-svc")

        // host->call_function from C into the Swift plugin, and its NOT_FOUND (1000 + -4).
        XCTAssertEqual(try call("svc", "relay", .string("swift-svc"), .string("add"), .int64(40), .int64(2)), .int64(42))
        XCTAssertEqual(try call("svc", "relay", .string("swift-svc"), .string("nope"), .int64(1), .int64(2)), .int64(996))
        XCTAssertEqual(try call("svc", "relay", .string("swift-svc"), .string("greet"), .int64(1), .int64(2)), .int64(999),
                       "wrong argument types: ERR_INVALID")
        try await node.plugins.reload(name: "swift-svc")
        XCTAssertEqual(try call("swift-svc", "add", .int64(1), .int64(1)), .int64(2), "the reloaded version's function")
        try await node.plugins.unload(name: "swift-svc")
        XCTAssertEqual(try call("svc", "relay", .string("swift-svc"), .string("add"), .int64(1), .int64(2)), .int64(996))
    }

    /// Wrong argument count or type, an unknown function and an unknown plugin, each with its message.
    private func assertCallErrors(plugin: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try callFailure(plugin, "add", .int64(1)),
                       .badArguments("\(plugin).add: int64(int64,int64) takes 2 arguments, 1 given"), file: file, line: line)
        XCTAssertEqual(try callFailure(plugin, "add", .int64(1), .string("2")),
                       .badArguments("\(plugin).add: argument 2 of int64(int64,int64) must be int64, string given"),
                       file: file, line: line)
        XCTAssertEqual(try callFailure(plugin, "negate", .int64(1)),
                       .badArguments("\(plugin).negate: argument 1 of bool(bool) must be bool, int64 given"), file: file, line: line)
        let unknown = try callFailure(plugin, "nope")
        XCTAssertTrue(unknown?.message.hasPrefix("plugin \(plugin) exports no function named nope (it exports: add, ") == true,
                      "\(String(describing: unknown))", file: file, line: line)
        XCTAssertEqual(try callFailure("ghost", "add"), .notFound("no plugin named ghost is loaded"), file: file, line: line)
    }
}
