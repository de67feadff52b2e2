import Foundation
import StarlingFFI
import StarlingPlugins
import XCTest
import StarlingTestSupport

/// The ABI 1.2 services test plugin (Fixtures/services_plugin.c) and a Swift one exporting functions.
extension PluginTestCase {
    func buildServicesPlugin(_ output: String = "svc.so") throws -> String {
        try PluginBuilder.fixture("services_plugin", into: directory, output: output)
    }

    func buildSwiftServicesPlugin(_ output: String = "swift-svc.so") throws -> String {
        let plugin = directory.appendingPathComponent(output).path
        try PluginBuilder.run("swiftc", ["-emit-library", "-parse-as-library", "-module-name", "SwiftServicesPlugin",
                                         "-I", PluginBuilder.include.path, "-o", plugin,
                                         PluginBuilder.fixtures.appendingPathComponent("swift_services_plugin.swift").path])
        return plugin
    }

    /// Calls an exported function through the node's directory (libffi underneath).
    @discardableResult
    func call(_ plugin: String, _ function: String, _ arguments: FFIValue...) throws -> FFIValue {
        try node.plugins.functions.call(plugin: plugin, function: function, arguments: arguments)
    }

    /// The message of a failed call.
    func callFailure(_ plugin: String, _ function: String, _ arguments: FFIValue...,
                     file: StaticString = #filePath, line: UInt = #line) throws -> FunctionCallError? {
        do {
            let result = try node.plugins.functions.call(plugin: plugin, function: function, arguments: arguments)
            XCTFail("\(plugin).\(function) answered \(result)", file: file, line: line)
            return nil
        } catch let error as FunctionCallError {
            return error
        }
    }
}
