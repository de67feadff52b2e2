import Foundation
import Logging
import MQTTClient
import MQTTCore
import NIOCore
import StarlingKernel
import StarlingServer
import XCTest
import StarlingTestSupport

/// A test against a fresh in-process Starling node on a free loopback port, talking to it with `MQTTClient`.
///
/// Every client and raw connection made through the helpers, and the node, are closed in `tearDown` (also
/// when the test failed or threw), each close bounded.
class IntegrationTestCase: XCTestCase, @unchecked Sendable {  // its state is behind `lock`
    private let lock = NSLock()
    private var runningNode: BrokerProcess?
    private var clients: [MQTTClient] = []
    private var peers: [RawPeer] = []

    /// The node under test.
    var node: BrokerProcess {
        get throws {
            guard let node = lock.withLock({ runningNode }) else { throw TestSupportError("no node is running") }
            return node
        }
    }

    /// The port of the node's listener.
    var port: Int {
        get throws { try node.listeners[0].address.port! }
    }

    override func setUp() async throws {
        try await super.setUp()
        let node = try await withTimeout(.seconds(10), "node start") { try await self.startNode() }
        lock.withLock { runningNode = node }
    }

    /// Starts the node under test: two event loops, anonymous clients allowed, no HTTP API.
    /// Subclasses may start it otherwise.
    func startNode() async throws -> BrokerProcess {
        var settings = BrokerSettings()
        settings.eventLoops = 2  // deliveries also cross event loops
        settings.allowAnonymous = true
        let config = ServerConfig(settings: settings,
                                  listeners: [ListenerConfig(name: "default", bind: "127.0.0.1", port: 0)],
                                  logLevel: .critical, api: APIConfig(enabled: false))
        return try await BrokerProcess.start(config: config, logger: Self.quietLogger)
    }

    /// A logger that writes nothing.
    static let quietLogger = Logger(label: "starling.integration-tests") { _ in SwiftLogNoOpLogHandler() }

    override func tearDown() async throws {
        let (clients, peers) = lock.withLock {
            defer { self.clients = []; self.peers = [] }
            return (self.clients, self.peers)
        }
        for client in clients where client.isActive {
            try? await withTimeout(.seconds(5), "client close") { await client.closeAbruptly() }
        }
        for peer in peers { await peer.close() }
        await stopNode()
        try await super.tearDown()
    }

    /// Stops the node gracefully (once; tear-down does it when the test did not).
    func stopNode() async {
        guard let node = lock.withLock({ () -> BrokerProcess? in
            defer { runningNode = nil }
            return runningNode
        }) else { return }
        try? await withTimeout(.seconds(10), "node stop") { await node.stop() }
    }

    /// Connects a client to the node. `sessionExpiry` (5.0) keeps the session after the connection;
    /// `configure` sets anything else (will, keep alive, acknowledgements, CONNECT properties …).
    func connect(_ clientId: String, version: ProtocolVersion = .v5, cleanStart: Bool = true,
                 sessionExpiry: UInt32? = nil,
                 _ configure: (inout MQTTClientConfiguration) -> Void = { _ in }) async throws -> TestClient {
        var configuration = MQTTClientConfiguration(port: try port, version: version, clientId: clientId,
                                                    cleanStart: cleanStart, connectTimeout: .seconds(5),
                                                    responseTimeout: .seconds(5))
        if let sessionExpiry { configuration.connectProperties.sessionExpiryInterval = sessionExpiry }
        configure(&configuration)
        let client = try await MQTTClient.connect(configuration)
        lock.withLock { clients.append(client) }
        return TestClient(client)
    }

    /// A bare 5.0 connection (see `RawPeer`).
    func connectRaw(_ connect: Connect) async throws -> RawPeer {
        let peer = try await RawPeer.connect(port: try port, connect)
        lock.withLock { peers.append(peer) }
        return peer
    }

    /// Waits until the node holds exactly `count` connections: a client's close has been fully handled
    /// (session detached, will published) once the node no longer counts it.
    func waitForConnections(_ count: Int) async throws {
        let broker = try node.broker
        try await waitUntil("\(count) connections on the node (have \(broker.stats.connections))") {
            broker.stats.connections == count
        }
    }

    /// Lets the node deliver anything still under way, to check that nothing more arrives.
    func settle(_ duration: Duration = .milliseconds(300)) async throws {
        try await Task.sleep(for: duration)
    }
}
