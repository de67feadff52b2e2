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
    private var runningNode: BrokerProcess?
    private var clients: [MQTTClient] = []
    private let lock = NSLock()

    override func setUp() async throws {
        try await super.setUp()
        directory = try PluginBuilder.temporaryDirectory()
    }

    override func tearDown() async throws {
        let clients = lock.withLock { self.clients }
        for client in clients where client.isActive { await client.closeAbruptly() }
        await stopNode()
        try? FileManager.default.removeItem(at: directory)
        try await super.tearDown()
    }

    /// The folder plugin copies go to (`DATA_DIR/plugins`).
    var copiesDirectory: URL { directory.appendingPathComponent("data/plugins") }

    /// Starts a node that loads `plugins` at start-up; anonymous clients allowed unless `configure` says otherwise.
    @discardableResult
    func startNode(plugins: [PluginConfig] = [], _ configure: (inout ServerConfig) -> Void = { _ in }) async throws -> BrokerProcess {
        var settings = BrokerSettings()
        settings.eventLoops = 2
        settings.allowAnonymous = true
        var config = ServerConfig(settings: settings, listeners: [ListenerConfig(name: "default", bind: "127.0.0.1", port: 0)],
                                  logLevel: .trace, dataDir: directory.appendingPathComponent("data").path,
                                  api: APIConfig(enabled: false), plugins: plugins)  // 18083 may be taken
        configure(&config)
        let node = try await BrokerProcess.start(config: config, logger: log.logger())
        lock.withLock { runningNode = node }
        return node
    }

    var node: BrokerProcess {
        get throws {
            guard let node = lock.withLock({ runningNode }) else { throw BuildError("no node is running") }
            return node
        }
    }

    func stopNode() async {
        let node = lock.withLock { () -> BrokerProcess? in
            defer { runningNode = nil }
            return runningNode
        }
        await node?.stop()
    }

    /// Connects a client; throws `MQTTClientError` (`.connectionRefused` with the CONNACK) when refused.
    func connect(_ clientId: String, version: ProtocolVersion = .v5, username: String? = nil,
                 password: String? = nil, cleanStart: Bool = true, properties: Properties = [],
                 autoAck: Bool = true) async throws -> MQTTClient {
        let port = try node.listeners[0].address.port!
        var configuration = MQTTClientConfiguration(port: port, version: version, clientId: clientId,
                                                    username: username, password: password.map { Array($0.utf8) },
                                                    connectTimeout: .seconds(5), responseTimeout: .seconds(5))
        configuration.cleanStart = cleanStart
        configuration.connectProperties = properties
        configuration.autoAck = autoAck
        let client = try await MQTTClient.connect(configuration)
        lock.withLock { clients.append(client) }
        return client
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

/// Collects what a client's message stream yields.
final class Inbox: @unchecked Sendable {  // state behind `lock`
    private let lock = NSLock()
    private var messages: [Publish] = []

    init(_ client: MQTTClient) {
        Task {
            for await message in client.messages { self.lock.withLock { self.messages.append(message) } }
        }
    }

    var all: [Publish] { lock.withLock { messages } }
    var texts: [String] { all.map { String(buffer: $0.payload) } }

    /// Waits for at least `count` messages and returns their payloads as text.
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(5)) async throws -> [String] {
        try await waitUntil("\(count) messages (have \(all.count))", timeout: timeout) { self.all.count >= count }
        return texts
    }
}
