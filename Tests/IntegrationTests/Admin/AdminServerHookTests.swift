import Foundation
import NIOCore
import NIOPosix
import StarlingAdmin
import StarlingKernel
import XCTest
import StarlingTestSupport

/// The hooks other parts of the node plug into: extra routes (they replace a built-in route of the
/// same method and path, as the Prometheus exporter replaces the placeholder) and metrics providers.
final class AdminServerHookTests: XCTestCase {
    struct FixedNode: ProcessControl {
        var nodeDescription: NodeDescription {
            NodeDescription(name: "hook@127.0.0.1", version: "test", startedAt: .now(), listeners: [])
        }

        func reload() throws(ReloadError) -> ReloadReport { throw ReloadError("no config here") }
    }

    func testExtraRoutesAndMetricsProviders() async throws {
        let directory = try makeTemporaryDirectory("starling-hooks")
        defer { try? FileManager.default.removeItem(at: directory) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let broker = Broker(settings: BrokerSettings(), group: group, logger: .quiet)
        let configuration = AdminServer.Configuration(
            port: 0, dataDir: directory.path,
            extraRoutes: [
                AdminRoute(.GET, "/api/v1/prometheus") { _ in .text("# HELP up\nup 1\n", contentType: "text/plain; version=0.0.4") },
                AdminRoute(.GET, "/api/v1/extra/{name}") { request in .json(["hello": request.parameter("name")]) },
            ],
            metrics: [{ ["packets.received": 42, "messages.received": 7] }])
        let server = try await AdminServer.start(configuration: configuration, broker: broker, node: FixedNode(),
                                                 group: group, logger: .quiet)
        let client = AdminClient(host: "127.0.0.1", port: server.address.port!)

        let prometheus = try await client.send(.GET, "/api/v1/prometheus")
        XCTAssertEqual(prometheus.status, .ok)
        XCTAssertEqual(prometheus.headers.first(name: "content-type"), "text/plain; version=0.0.4")
        XCTAssertEqual(prometheus.text, "# HELP up\nup 1\n")
        let extra = try await client.send(.GET, "/api/v1/extra/a%20b")
        XCTAssertEqual(extra.json?["hello"]?.string, "a b")
        let metrics = try await client.send(.GET, "/api/v1/metrics")
        XCTAssertEqual(metrics.json?["packets.received"]?.int, 42)
        XCTAssertEqual(metrics.json?["messages.received"]?.int, 7, "a provider's counter wins over the kernel's")
        let reload = try await client.send(.POST, "/api/v1/reload")
        XCTAssertEqual(reload.status, .badRequest)
        XCTAssertEqual(reload.json?["code"]?.string, "BAD_CONFIG")
        XCTAssertEqual(reload.json?["message"]?.string, "no config here")
        let status = try await client.send(.GET, "/api/v1/status")
        XCTAssertEqual(status.json?["node"]?.string, "hook@127.0.0.1")

        await server.stop()
        try await group.shutdownGracefully()
    }
}
