import Foundation
import MQTTClient
import MQTTCore
import StarlingServer
import XCTest
import StarlingTestSupport

/// A test against a fresh in-process Starling node on a free loopback port, talking to it with `MQTTClient`.
///
/// Every client and raw connection made through the helpers, and the node, are closed in `tearDown` (also
/// when the test failed or threw), each close bounded.
class IntegrationTestCase: XCTestCase, @unchecked Sendable {  // its state is behind `lock`
    private let lock = NSLock()
    private let nodeUnderTest = NodeUnderTest()
    private var peers: [RawPeer] = []

    /// The node under test.
    var node: BrokerProcess {
        get throws { try nodeUnderTest.node }
    }

    /// The port of the node's listener.
    var port: Int {
        get throws { try node.mqttPort }
    }

    override func setUp() async throws {
        try await super.setUp()
        try await nodeUnderTest.start { try await self.startNode() }
    }

    /// Starts the node under test: two event loops, anonymous clients allowed, no HTTP API.
    /// Subclasses may start it otherwise.
    func startNode() async throws -> BrokerProcess {
        try await TestNode.start()
    }

    override func tearDown() async throws {
        let peers = lock.withLock {
            defer { self.peers = [] }
            return self.peers
        }
        await nodeUnderTest.closeClients()
        for peer in peers { await peer.close() }
        await stopNode()
        try await super.tearDown()
    }

    /// Stops the node gracefully (once; tear-down does it when the test did not).
    func stopNode() async {
        await nodeUnderTest.stop()
    }

    /// Connects a client to the node. `sessionExpiry` (5.0) keeps the session after the connection;
    /// `configure` sets anything else (will, keep alive, acknowledgements, CONNECT properties …).
    func connect(_ clientId: String, version: ProtocolVersion = .v5, cleanStart: Bool = true,
                 sessionExpiry: UInt32? = nil,
                 _ configure: (inout MQTTClientConfiguration) -> Void = { _ in }) async throws -> TestClient {
        let client = try await nodeUnderTest.connect(clientId, version: version) { configuration in
            configuration.cleanStart = cleanStart
            if let sessionExpiry { configuration.connectProperties.sessionExpiryInterval = sessionExpiry }
            configure(&configuration)
        }
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
}
