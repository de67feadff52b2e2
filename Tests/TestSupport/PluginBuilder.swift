import Foundation

/// Compiles C plugins with the system's `cc` into a folder, as plugin authors do: the fixtures of
/// Tests/PluginTests/Fixtures, for the plugin tests and the tests that load plugins through the API.
public enum PluginBuilder {
    /// The fixtures' folder: C and Swift plugins, and C programs loading them.
    public static let fixtures = repositoryRoot.appendingPathComponent("Tests/PluginTests/Fixtures")
    /// The folder of the plugin ABI's header.
    public static let include = repositoryRoot.appendingPathComponent("include")
    /// The plain line of plugins/Makefile, which proves the header stands alone.
    public static let pluginFlags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-Wl,-Bsymbolic"]

    /// Builds `source` (relative to the repository) into `directory/output` against the header
    /// folder `include` and returns the shared object's path.
    public static func build(_ source: String, into directory: URL, output: String, include: URL = include,
                             extraFlags: [String] = []) throws -> String {
        let target = directory.appendingPathComponent(output).path
        try run("cc", pluginFlags + extraFlags + ["-I", include.path, "-o", target,
                                                   repositoryRoot.appendingPathComponent(source).path])
        return target
    }

    /// Builds the fixture `NAME.c` with the POSIX declarations (some fixtures sleep with nanosleep).
    public static func fixture(_ name: String, into directory: URL, output: String, include: URL = include) throws -> String {
        try build("Tests/PluginTests/Fixtures/\(name).c", into: directory, output: output, include: include,
                  extraFlags: ["-D_POSIX_C_SOURCE=200809L"])
    }

    /// Builds the option-driven test plugin.
    public static func testPlugin(into directory: URL, output: String = "test-plugin.so", include: URL = include) throws -> String {
        try fixture("test_plugin", into: directory, output: output, include: include)
    }

    /// Builds a fixture that answers from threads of its own (POSIX threads and nanosleep).
    public static func threadedPlugin(_ source: String, into directory: URL, output: String) throws -> String {
        try build("Tests/PluginTests/Fixtures/\(source)", into: directory, output: output,
                  extraFlags: ["-D_POSIX_C_SOURCE=200809L", "-pthread"])
    }

    /// Runs a tool found on PATH; throws with its output (standard output and error, interleaved) when it
    /// fails. Returns that output.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String]) throws -> String {
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
            throw TestSupportError("\(tool) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)):\n\(text)")
        }
        return text
    }
}
