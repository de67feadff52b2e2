import MQTTClient
import MQTTCore
import StarlingAdmin
import XCTest

/// The read-only endpoints against a node with real clients: status, nodes, stats, metrics,
/// clients (filters, paging), one client, subscriptions, routes.
final class AdminReadTests: AdminTestCase, @unchecked Sendable {
    func testStatusAndNodesDescribeThisNode() async throws {
        let status = try await get("/api/v1/status")
        XCTAssertEqual(status["node"]?.string, "starling@127.0.0.1")
        XCTAssertEqual(status["status"]?.string, "running")
        XCTAssertNotNil(status["version"]?.string)
        XCTAssertNotNil(status["uptime_seconds"]?.int)

        let nodes = try await get("/api/v1/nodes")
        XCTAssertEqual(nodes.count, 1)
        let node = try XCTUnwrap(nodes.items.first)
        XCTAssertEqual(node["name"]?.string, "starling@127.0.0.1")
        XCTAssertEqual(node["status"]?.string, "running")
        let listener = try XCTUnwrap(node["listeners"]?[0])
        XCTAssertEqual(listener["name"]?.string, "tcp.default")
        XCTAssertEqual(listener["port"]?.int, try port, "the real port, not the configured 0")
        XCTAssertEqual(listener["bind"]?.string, "127.0.0.1")
    }

    func testStatsCountWithMaxima() async throws {
        // The node retains its own $SYS topics (version, sysdescr …) from the start.
        let retainedAtStart = try await get("/api/v1/stats")["retained"]?["current"]?.int ?? 0
        let first = try await connect("stats-1")
        try await first.subscribe("s/a", "s/b")
        let second = try await connect("stats-2")
        try await second.subscribe("s/a")
        _ = try await second.mqtt.publish("s/retained", payload: "r", qos: .atLeastOnce, retain: true)
        var stats = try await get("/api/v1/stats")
        XCTAssertEqual(stats["connections"]?["current"]?.int, 2)
        XCTAssertEqual(stats["sessions"]?["current"]?.int, 2)
        XCTAssertEqual(stats["subscriptions"]?["current"]?.int, 3)
        XCTAssertEqual(stats["topics"]?["current"]?.int, 2)
        XCTAssertEqual(stats["retained"]?["current"]?.int, retainedAtStart + 1)

        try await first.mqtt.disconnect()
        try await waitForConnections(1)
        stats = try await get("/api/v1/stats")
        for (name, current, max) in [("connections", 1, 2), ("sessions", 1, 2), ("subscriptions", 1, 3), ("topics", 1, 2)] {
            XCTAssertEqual(stats[name]?["current"]?.int, current, name)
            XCTAssertEqual(stats[name]?["max"]?.int, max, name)
        }
    }

    func testMetricsCountMessages() async throws {
        let subscriber = try await connect("metrics-sub")
        try await subscriber.subscribe("m/#")
        let publisher = try await connect("metrics-pub")
        try await publisher.publishNumbered(3, to: "m/x")
        _ = try await publisher.mqtt.publish("nobody/listens", payload: "x", qos: .atLeastOnce)
        try await subscriber.messages.wait(for: 3)
        let metrics = try await get("/api/v1/metrics")
        XCTAssertEqual(metrics["messages.received"]?.int, 4)
        XCTAssertEqual(metrics["messages.sent"]?.int, 3)
        XCTAssertEqual(metrics["messages.dropped.no_subscribers"]?.int, 1)
        XCTAssertEqual(metrics["messages.dropped"]?.int, 1)
    }

    func testClientsListFiltersAndPages() async throws {
        _ = try await connect("alpha-1") { $0.username = "ann" }
        _ = try await connect("alpha-2", version: .v3_1_1)
        let offline = try await connect("beta-1", cleanStart: false, sessionExpiry: 600)
        try await offline.mqtt.disconnect()
        try await waitForConnections(2)

        let all = try await get("/api/v1/clients")
        XCTAssertEqual(all.count, 3)
        XCTAssertEqual(all.items.compactMap { $0["clientid"]?.string }, ["alpha-1", "alpha-2", "beta-1"])
        let ann = try XCTUnwrap(all.items.first)
        XCTAssertEqual(ann["username"]?.string, "ann")
        XCTAssertEqual(ann["ip"]?.string, "127.0.0.1")
        XCTAssertNotNil(ann["port"]?.int)
        XCTAssertEqual(ann["proto_ver"]?.string, "5.0")
        XCTAssertEqual(ann["connected"]?.bool, true)
        XCTAssertEqual(all.items[1]["username"]?.isNull, true, "absent values are null, not left out")

        func ids(_ query: String) async throws -> [String] {
            try await get("/api/v1/clients?\(query)").items.compactMap { $0["clientid"]?.string }
        }
        let byPrefix = try await ids("clientid_prefix=alpha")
        XCTAssertEqual(byPrefix, ["alpha-1", "alpha-2"])
        let byUsername = try await ids("username=ann")
        XCTAssertEqual(byUsername, ["alpha-1"])
        let byVersion = try await ids("proto_ver=3.1.1")
        XCTAssertEqual(byVersion, ["alpha-2"])
        let offlineOnes = try await ids("connected=false")
        XCTAssertEqual(offlineOnes, ["beta-1"])
        let byIP = try await ids("ip=127.0.0.1&connected=true")
        XCTAssertEqual(byIP, ["alpha-1", "alpha-2"])
        let noIP = try await ids("ip=10.0.0.1")
        XCTAssertEqual(noIP, [])

        let page2 = try await get("/api/v1/clients?limit=2&page=2")
        XCTAssertEqual(page2.items.compactMap { $0["clientid"]?.string }, ["beta-1"])
        XCTAssertEqual(page2["meta"]?["page"]?.int, 2)
        XCTAssertEqual(page2["meta"]?["limit"]?.int, 2)
        XCTAssertEqual(page2.count, 3)
        let beyond = try await get("/api/v1/clients?page=9")
        XCTAssertEqual(beyond.items.count, 0)
        XCTAssertEqual(beyond.count, 3)
    }

    func testOneClientWithItsSubscriptions() async throws {
        let client = try await connect("show-me") { $0.keepAlive = 30 }
        try await client.subscribe("a/+", "$share/g/b/#")
        let detail = try await get("/api/v1/clients/show-me")
        XCTAssertEqual(detail["client"]?["clientid"]?.string, "show-me")
        XCTAssertEqual(detail["client"]?["keepalive"]?.int, 30)
        XCTAssertEqual(detail["client"]?["subscriptions_count"]?.int, 2)
        let filters = detail["subscriptions"]?.array?.compactMap { $0["topic"]?.string }
        XCTAssertEqual(filters.map(Set.init), ["a/+", "$share/g/b/#"])
        assertError(try await request(.GET, "/api/v1/clients/nobody"), .notFound, code: "NOT_FOUND")
    }

    func testSubscriptionsFilteredAndRoutes() async throws {
        let one = try await connect("sub-one")
        try await one.subscribe("a/+", "b/#")
        let two = try await connect("sub-two")
        try await two.subscribe("a/+")

        let all = try await get("/api/v1/subscriptions")
        XCTAssertEqual(all.count, 3)
        let first = try XCTUnwrap(all.items.first)
        XCTAssertEqual(first["clientid"]?.string, "sub-one")
        XCTAssertEqual(first["topic"]?.string, "a/+")
        XCTAssertEqual(first["qos"]?.int, 1)
        XCTAssertEqual(first["no_local"]?.bool, false)

        let ofOne = try await get("/api/v1/subscriptions?clientid=sub-one")
        XCTAssertEqual(ofOne.items.compactMap { $0["topic"]?.string }, ["a/+", "b/#"])
        let onA = try await get("/api/v1/subscriptions?topic=a%2F%2B")
        XCTAssertEqual(onA.items.compactMap { $0["clientid"]?.string }, ["sub-one", "sub-two"])
        let onHash = try await get("/api/v1/subscriptions?topic=b/%23&clientid=sub-one")
        XCTAssertEqual(onHash.count, 1)

        let routes = try await get("/api/v1/routes")
        XCTAssertEqual(routes.items.compactMap { $0["topic"]?.string }, ["a/+", "b/#"])
        XCTAssertEqual(routes.items.first?["nodes"]?[0]?.string, "starling@127.0.0.1")
        let paged = try await get("/api/v1/routes?limit=1&page=2")
        XCTAssertEqual(paged.items.compactMap { $0["topic"]?.string }, ["b/#"])
    }
}
