import Foundation
import Logging
import MQTTClient
import MQTTCore
import StarlingKernel
import StarlingPlugins
import StarlingServer
import XCTest
import StarlingTestSupport

/// A test with plugins built by `cc` into a temporary folder and an in-process node started on a
/// free loopback port, its log recorded. Clients and the node are closed in `tearDown`.
class PluginTestCase: XCTestCase, @unchecked Sendable {  // its state is set up and torn down by XCTest
    let log = LogRecorder()
    private(set) var directory: URL!
    private let nodeUnderTest = NodeUnderTest()

    override func setUp() async throws {
        try await super.setUp()
        directory = try makeTemporaryDirectory("starling-plugins")
    }

    override func tearDown() async throws {
        await nodeUnderTest.close()
        try? FileManager.default.removeItem(at: directory)
        try await super.tearDown()
    }

    /// The folder plugin copies go to (`DATA_DIR/plugins`).
    var copiesDirectory: URL { directory.appendingPathComponent("data/plugins") }

    /// Starts a node that loads `plugins` at start-up; anonymous clients allowed unless `configure` says otherwise.
    @discardableResult
    func startNode(plugins: [PluginConfig] = [], _ configure: (inout ServerConfig) -> Void = { _ in }) async throws -> BrokerProcess {
        var config = TestNode.config(logLevel: .trace, dataDir: directory.appendingPathComponent("data").path,
                                     plugins: plugins)
        configure(&config)
        return try await nodeUnderTest.start(config, logger: log.logger())
    }

    /// The running node.
    var node: BrokerProcess {
        get throws { try nodeUnderTest.node }
    }

    /// Stops the node gracefully (once; tear-down does it when the test did not).
    func stopNode() async {
        await nodeUnderTest.stop()
    }

    /// A client configuration for the node (see `NodeUnderTest.clientConfiguration`).
    func clientConfiguration(_ clientId: String, version: ProtocolVersion = .v5) throws -> MQTTClientConfiguration {
        try nodeUnderTest.clientConfiguration(clientId, version: version)
    }

    /// Connects a client; throws `MQTTClientError` (`.connectionRefused` with the CONNACK) when refused.
    func connect(_ clientId: String, version: ProtocolVersion = .v5, username: String? = nil,
                 password: String? = nil, cleanStart: Bool = true, properties: Properties = [],
                 autoAck: Bool = true) async throws -> MQTTClient {
        try await nodeUnderTest.connect(clientId, version: version) { configuration in
            configuration.username = username
            configuration.password = password.map { Array($0.utf8) }
            configuration.cleanStart = cleanStart
            configuration.connectProperties = properties
            configuration.autoAck = autoAck
        }
    }

    /// Connects a client with `configuration` (a listener of the node's other than the first, say).
    func connect(_ configuration: MQTTClientConfiguration) async throws -> MQTTClient {
        try await nodeUnderTest.connect(configuration)
    }

    /// Connects and expects a refusal; returns the refusing CONNACK's reason code.
    func refusal(_ clientId: String, version: ProtocolVersion = .v5, username: String? = nil, password: String? = nil,
                 file: StaticString = #filePath, line: UInt = #line) async throws -> ReasonCode? {
        do {
            _ = try await connect(clientId, version: version, username: username, password: password)
            XCTFail("\(clientId) was accepted", file: file, line: line)
            return nil
        } catch let error as MQTTClientError where error.code == .connectionRefused {
            return error.connAck?.reasonCode
        }
    }

    /// Loads `path` with `options` into the running node, expecting the load to fail; returns its message.
    func loadFailure(_ path: String, options: [PluginOption] = [], file: StaticString = #filePath,
                     line: UInt = #line) async throws -> String? {
        do {
            try await node.plugins.load(path: path, options: options)
            XCTFail("\(path) loaded", file: file, line: line)
            return nil
        } catch let error as PluginError {
            return error.message
        }
    }

    /// Builds the option-driven test plugin into the test's folder.
    func buildTestPlugin(_ output: String = "test-plugin.so") throws -> String {
        try PluginBuilder.testPlugin(into: directory, output: output)
    }

    /// A `[[plugins]]` entry for `path` with `options`.
    func entry(_ path: String, name: String? = nil, _ options: KeyValuePairs<String, String> = [:]) -> PluginConfig {
        PluginConfig(path: path, name: name, options: options.map { PluginOption(key: $0.key, value: $0.value) })
    }
}

/// Collects what a client's message stream yields (a `Recorder` of it), read as text.
final class Inbox: Sendable {
    private let messages: Recorder<Publish>

    init(_ client: MQTTClient) { messages = Recorder(client.messages) }

    var all: [Publish] { messages.all }
    var texts: [String] { all.texts }

    /// Waits for at least `count` messages and returns their payloads as text.
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(5)) async throws -> [String] {
        try await messages.wait(for: count, timeout: timeout)
        return texts
    }
}
