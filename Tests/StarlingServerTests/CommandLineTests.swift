import Foundation
import StarlingServer
import XCTest
import StarlingTestSupport

/// Runs the built `starling` binary; skipped when it is not next to the test bundle.
final class CommandLineTests: ConfigTestCase {
    static let binary: URL? = {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        ] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
            + [repositoryRoot.appendingPathComponent(".build/debug")]
        return candidates.map { $0.appendingPathComponent("starling") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    func run(_ arguments: [String], env: [String: String] = [:]) throws -> ProcessOutput {
        let binary = try XCTUnwrap(Self.binary, "the starling binary is not built")
        return try Process(binary, arguments, environment: env).runToEnd()
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipIf(Self.binary == nil, "the starling binary is not built next to the tests")
    }

    func testStartHelpListsTheContractFlags() throws {
        let result = try run(["start", "--help"])
        XCTAssertEqual(result.status, 0)
        for flag in ["--config", "--bind", "--port", "--log-level", "--api-bind", "--api-port"] {
            XCTAssertTrue(result.stdout.contains(flag), "start --help lacks \(flag):\n\(result.stdout)")
        }
    }

    func testVersion() throws {
        let result = try run(["version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, starlingVersion + "\n")
    }

    func testBadConfigExitsTwoWithTheMessage() throws {
        let path = try write("[mqtt]\nmax_packet_size = -5\n")
        for arguments in [["start", "--config", path], ["--config", path]] {
            let result = try run(arguments)
            XCTAssertEqual(result.status, 2)
            XCTAssertTrue(result.stderr.hasPrefix("starling: config error: mqtt.max_packet_size = -5 (in \(path)): expected"),
                          result.stderr)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line only:\n\(result.stderr)")
        }
        let env = try run(["start"], env: ["STARLING_LISTENERS__TCP__DEFAULT__PORT": "abc"])
        XCTAssertEqual(env.status, 2)
        XCTAssertEqual(env.stderr, "starling: config error: STARLING_LISTENERS__TCP__DEFAULT__PORT = \"abc\": "
            + "expected an integer from 0 to 65535\n")
        let flag = try run(["start", "--port", "65536"])
        XCTAssertEqual(flag.status, 2)
        XCTAssertTrue(flag.stderr.contains("--port = 65536"), flag.stderr)
    }

    func testCheckConfig() throws {
        let good = try run(["check-config", "--config", repositoryRoot.appendingPathComponent("docs/starling.example.toml").path],
                           env: ["STARLING_MQTT__MAX_QOS_ALLOWED": "1"])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.contains("max_qos_allowed = 1\n"), good.stdout)
        XCTAssertTrue(good.stdout.contains("[listeners.tcp.default]\n"), good.stdout)
        let bad = try run(["check-config", "--config", try write("[mqtt]\nfoo = 1\n")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("unknown key 'mqtt.foo'"), bad.stderr)
    }
}
