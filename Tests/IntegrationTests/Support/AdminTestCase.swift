import Foundation
import NIOHTTP1
import StarlingAdmin
import StarlingServer
import XCTest
import StarlingTestSupport

/// An integration test with the node's HTTP API on: the node is started from a config file in a
/// temporary directory (also its data directory), so a test can rewrite the file and reload.
class AdminTestCase: IntegrationTestCase, @unchecked Sendable {
    /// The temporary directory of this test: config file and data directory.
    private(set) var directory = URL(fileURLWithPath: "/nonexistent")
    var configFile: URL { directory.appendingPathComponent("starling.toml") }
    /// The config the node starts with, without listeners, API and data directory (`writeConfig` adds them).
    class var initialConfig: String {
        """
        [node]
        event_loops = 2
        [mqtt]
        allow_anonymous = true
        """
    }

    /// The log level the node's reload sets.
    let logLevel = LogLevelSetting(.info)

    override func startNode() async throws -> BrokerProcess {
        directory = try makeTemporaryDirectory("starling-admin")
        try writeConfig(Self.initialConfig)
        let source = ConfigSource(file: configFile.path, environment: [:], overrides: CommandLineOverrides())
        return try await BrokerProcess.start(config: try source.load(), source: source, logger: .quiet,
                                           logLevel: logLevel)
    }

    override func tearDown() async throws {
        try await super.tearDown()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes the config file: `body` plus the listener and the API on free ports (`apiPort` for the
    /// API if given) and the data directory.
    func writeConfig(_ body: String, apiPort: Int = 0) throws {
        var lines = body.components(separatedBy: "\n")
        // `data_dir` belongs in [node]; add it there (or add the section).
        let dataDir = "data_dir = \"\(directory.appendingPathComponent("data").path)\""
        if let node = lines.firstIndex(of: "[node]") { lines.insert(dataDir, at: node + 1) } else { lines = ["[node]", dataDir] + lines }
        lines += ["[listeners.tcp.default]", "bind = \"127.0.0.1\"", "port = 0",
                  "[api]", "bind = \"127.0.0.1\"", "port = \(apiPort)"]
        try lines.joined(separator: "\n").write(to: configFile, atomically: true, encoding: .utf8)
    }

    /// A client of the node's API, with `credentials` if given.
    func api(_ credentials: (key: String, secret: String)? = nil) throws -> AdminClient {
        let address = try XCTUnwrap(try node.apiAddress, "the API is not running")
        return AdminClient(host: "127.0.0.1", port: address.port!, credentials: credentials)
    }

    /// Sends a request without credentials and returns the answer.
    func request(_ method: HTTPMethod, _ target: String, json body: String? = nil,
                 credentials: (key: String, secret: String)? = nil) async throws -> AdminClientResponse {
        try await api(credentials).send(method, target, body: body.map { Array($0.utf8) })
    }

    /// `GET target`, checked to answer 200, as JSON.
    func get(_ target: String, file: StaticString = #filePath, line: UInt = #line) async throws -> JSONValue {
        let response = try await request(.GET, target)
        XCTAssertEqual(response.status, .ok, "GET \(target): \(response.text)", file: file, line: line)
        return try XCTUnwrap(response.json, "GET \(target) answered no JSON: \(response.text)", file: file, line: line)
    }

    /// Checks that `response` is an error with `status`, whose message starts with `prefix`.
    func assertError(_ response: AdminClientResponse, _ status: HTTPResponseStatus, code: String? = nil,
                     messageStartsWith prefix: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        XCTAssertEqual(response.headers.first(name: "content-type"), "application/json", file: file, line: line)
        if let code { XCTAssertEqual(response.json?["code"]?.string, code, response.text, file: file, line: line) }
        let message = response.json?["message"]?.string ?? ""
        XCTAssertTrue(message.hasPrefix(prefix), "message '\(message)' does not start with '\(prefix)'", file: file, line: line)
    }
}

/// Navigation in a JSON answer: `json["data"]?[0]?["clientid"]?.string`.
extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { fields[key] } else { nil }
    }

    subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { items[index] } else { nil }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .int(let value) = self { Int(value) } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let items) = self { items } else { nil } }
    var isNull: Bool { self == .null }
    /// The `data` items of a list answer.
    var items: [JSONValue] { self["data"]?.array ?? [] }
    /// `meta.count` of a list answer.
    var count: Int? { self["meta"]?["count"]?.int }
}
