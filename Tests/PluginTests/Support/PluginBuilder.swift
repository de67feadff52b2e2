import Foundation
import XCTest
import StarlingTestSupport

/// Compiles C plugins with the system's `cc` into a temporary folder, as plugin authors do.
enum PluginBuilder {
    /// The repository's root (this file is Tests/PluginTests/Support/PluginBuilder.swift).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repository.appendingPathComponent("Tests/PluginTests/Fixtures")
    static let include = repository.appendingPathComponent("include")
    /// The plain line of plugins/Makefile, which proves the header stands alone.
    static let pluginFlags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-Wl,-Bsymbolic"]

    /// Builds `source` (relative to the repository) into `directory/output` against the header
    /// folder `include` and returns the shared object's path.
    static func build(_ source: String, into directory: URL, output: String, include: URL = include,
                      extraFlags: [String] = []) throws -> String {
        let target = directory.appendingPathComponent(output).path
        try run("cc", pluginFlags + extraFlags + ["-I", include.path, "-o", target,
                                                   repository.appendingPathComponent(source).path])
        return target
    }

    /// Builds the option-driven test plugin (it sleeps with nanosleep: POSIX).
    static func testPlugin(into directory: URL, output: String = "test-plugin.so", include: URL = include) throws -> String {
        try build("Tests/PluginTests/Fixtures/test_plugin.c", into: directory, output: output, include: include,
                  extraFlags: ["-D_POSIX_C_SOURCE=200809L"])
    }

    /// Builds a fixture that answers from threads of its own (POSIX threads and nanosleep).
    static func threadedPlugin(_ source: String, into directory: URL, output: String) throws -> String {
        try build("Tests/PluginTests/Fixtures/\(source)", into: directory, output: output,
                  extraFlags: ["-D_POSIX_C_SOURCE=200809L", "-pthread"])
    }

    /// Runs a tool found on PATH; throws with its output when it fails. Returns its standard output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BuildError("\(tool) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)):\n\(text)")
        }
        return text
    }

    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("starling-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct BuildError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
