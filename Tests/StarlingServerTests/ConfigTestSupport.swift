import Foundation
import StarlingServer
import XCTest
import StarlingTestSupport

/// A temporary directory for one test's config files, removed at tear-down.
class ConfigTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("starling-config")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes `toml` to a file in the test's directory and returns its path.
    func write(_ toml: String, name: String = "starling.toml") throws -> String {
        let url = directory.appendingPathComponent(name)
        try toml.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Loads `toml` (no file when nil) with `env` and `flags`.
    func load(_ toml: String?, env: [String: String] = [:], flags: CommandLineOverrides = .init()) throws -> ServerConfig {
        try ServerConfig.load(file: toml.map { try write($0) }, environment: env, overrides: flags)
    }

    /// The error message loading fails with, or a test failure when it succeeds.
    func loadError(
        _ toml: String?, env: [String: String] = [:], flags: CommandLineOverrides = .init(),
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> String {
        do {
            let config = try load(toml, env: env, flags: flags)
            XCTFail("expected a config error, loaded \(config)", file: file, line: line)
            return ""
        } catch let error as ConfigError {
            XCTAssertTrue(error.description.hasPrefix("config error: "), file: file, line: line)
            return error.description
        }
    }

    /// Asserts that loading fails with a message containing every one of `parts`.
    func assertError(
        _ toml: String?, env: [String: String] = [:], flags: CommandLineOverrides = .init(), mentions parts: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let message = try loadError(toml, env: env, flags: flags, file: file, line: line)
        for part in parts {
            XCTAssertTrue(message.contains(part), "'\(message)' does not mention '\(part)'", file: file, line: line)
        }
    }
}
