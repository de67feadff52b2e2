import Foundation
import StarlingTestSupport

/// C plugins of `Tests/PluginTests/Fixtures`, compiled with the system's `cc` as plugin authors do,
/// for the tests that load plugins through the API and `starling ctl`.
enum FixturePlugin {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Compiles `Tests/PluginTests/Fixtures/SOURCE.c` into `directory/OUTPUT` and returns its path.
    static func build(_ source: String, into directory: URL, output: String) throws -> String {
        let target = directory.appendingPathComponent(output).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-fPIC", "-shared", "-Wl,-Bsymbolic",
                             "-I", repository.appendingPathComponent("include").path, "-o", target,
                             repository.appendingPathComponent("Tests/PluginTests/Fixtures/\(source).c").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSupportError("cc \(source).c failed:\n\(text)") }
        return target
    }
}
