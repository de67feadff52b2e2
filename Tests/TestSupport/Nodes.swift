// Starting an in-process node for a test and connecting clients to it: one definition for every
// suite that runs a node (integration, plugin and metrics tests).
import Foundation
import Logging
import MQTTClient
import MQTTCore
import StarlingKernel
import StarlingServer

extension BrokerProcess {
    /// The port the node's first listener is bound to (a configured port 0 resolved).
    public var mqttPort: Int { listeners[0].address.port! }
}

/// The configuration and start of an in-process node.
public enum TestNode {
    /// A configuration for a node under test: one TCP listener `default` on 127.0.0.1 with a free port
    /// (port 0), `eventLoops` event loops (deliveries then also cross loops), anonymous clients allowed and
    /// the HTTP API off (its default port may be taken). The data directory is `dataDir` when given.
    public static func config(eventLoops: Int = 2, logLevel: Logger.Level = .critical, dataDir: String? = nil,
                              plugins: [PluginConfig] = []) -> ServerConfig {
        var settings = BrokerSettings()
        settings.eventLoops = eventLoops
        settings.allowAnonymous = true
        var config = ServerConfig(settings: settings,
                                  listeners: [ListenerConfig(name: "default", bind: "127.0.0.1", port: 0)],
                                  logLevel: logLevel, api: APIConfig(enabled: false), plugins: plugins)
        // A node given no data directory keeps nothing on disk (several run in one test process).
        if let dataDir { config.dataDir = dataDir } else { config.storage.backend = .memory }
        return config
    }

    /// Starts a node with `config`, logging to `logger`. The caller stops it.
    public static func start(_ config: ServerConfig = config(), logger: Logger = .quiet) async throws -> BrokerProcess {
        try await BrokerProcess.start(config: config, logger: logger)
    }
}

/// The node a test runs and the clients it connected to it, closed by `close()` when the test ends.
/// Every start, stop and close is bounded, so one that hangs fails the test instead of the suite.
public final class NodeUnderTest: @unchecked Sendable {  // its state is behind `lock`
    private let lock = NSLock()
    private var running: BrokerProcess?
    private var clients: [MQTTClient] = []

    public init() {}

    /// The running node; throws when none is.
    public var node: BrokerProcess {
        get throws {
            guard let node = lock.withLock({ running }) else { throw TestSupportError("no node is running") }
            return node
        }
    }

    /// Starts a node with `start` (within 10 s) and makes it the node under test.
    @discardableResult
    public func start(_ start: @escaping @Sendable () async throws -> BrokerProcess) async throws -> BrokerProcess {
        let node = try await withTimeout(.seconds(10), "node start", start)
        lock.withLock { running = node }
        return node
    }

    /// Starts a node with `config`, logging to `logger`, and makes it the node under test.
    @discardableResult
    public func start(_ config: ServerConfig = TestNode.config(), logger: Logger = .quiet) async throws -> BrokerProcess {
        try await start { try await TestNode.start(config, logger: logger) }
    }

    /// A client configuration for the node: `clientId` speaking `version`, 5 s to connect and for each answer.
    public func clientConfiguration(_ clientId: String, version: ProtocolVersion = .v5) throws -> MQTTClientConfiguration {
        MQTTClientConfiguration(port: try node.mqttPort, version: version, clientId: clientId,
                                connectTimeout: .seconds(5), responseTimeout: .seconds(5))
    }

    /// Connects a client with `configuration`; `close()` closes it. Throws `MQTTClientError` when refused.
    public func connect(_ configuration: MQTTClientConfiguration) async throws -> MQTTClient {
        let client = try await MQTTClient.connect(configuration)
        lock.withLock { clients.append(client) }
        return client
    }

    /// Connects a client `clientId` speaking `version` (see `clientConfiguration`); `configure` sets anything
    /// else (credentials, clean start, will, CONNECT properties …).
    public func connect(_ clientId: String, version: ProtocolVersion = .v5,
                        _ configure: (inout MQTTClientConfiguration) -> Void = { _ in }) async throws -> MQTTClient {
        var configuration = try clientConfiguration(clientId, version: version)
        configure(&configuration)
        return try await connect(configuration)
    }

    /// Closes the connected clients without DISCONNECT, each within 5 s.
    public func closeClients() async {
        let clients = lock.withLock {
            defer { self.clients = [] }
            return self.clients
        }
        for client in clients where client.isActive {
            try? await withTimeout(.seconds(5), "client close") { await client.closeAbruptly() }
        }
    }

    /// Stops the node gracefully, within 10 s; once (later calls do nothing).
    public func stop() async {
        guard let node = lock.withLock({ () -> BrokerProcess? in
            defer { running = nil }
            return running
        }) else { return }
        try? await withTimeout(.seconds(10), "node stop") { await node.stop() }
    }

    /// Closes the clients, then stops the node.
    public func close() async {
        await closeClients()
        await stop()
    }
}
