import Metrics
import MQTTClient
import MQTTCore
import StarlingKernel
import StarlingMetrics
import StarlingServer
import XCTest
import StarlingTestSupport

/// `MetricsExporter` on a node with real clients connected and publishing.
final class MetricsExporterTests: XCTestCase {
    private let nodeUnderTest = NodeUnderTest()
    private var node: BrokerProcess!

    override func setUp() async throws {
        node = try await nodeUnderTest.start()
    }

    override func tearDown() async throws {
        await nodeUnderTest.close()
        node = nil
    }

    private func connect(_ clientId: String) async throws -> MQTTClient {
        try await nodeUnderTest.connect(clientId)
    }

    func testExportHasNamesTypesLabelsAndValues() async throws {
        let subscriber = try await connect("metrics-sub")
        _ = try await subscriber.subscribe([TopicSubscription(filter: "metrics/#", qos: .atLeastOnce)])
        let publisher = try await connect("metrics-pub")
        for index in 0..<5 {
            try await publisher.publish("metrics/\(index)", payload: "payload \(index)", qos: .atLeastOnce)
        }
        for _ in 0..<2 { try await publisher.publish("nobody/listens", payload: "x", qos: .atLeastOnce) }
        let broker = node.broker
        try await waitUntil("five deliveries") { broker.stats.messagesSent >= 5 }

        let text = MetricsExporter(broker: broker).prometheusText()
        let exposition = PrometheusExposition(text)
        XCTAssertEqual(exposition.unparsed, [])

        let gauges = ["starling_connections", "starling_connections_max", "starling_sessions", "starling_subscriptions",
                      "starling_retained_messages", "starling_uptime_seconds", "starling_plugins_pending_open"]
        let counters = ["starling_connects_total", "starling_disconnects_total", "starling_packets_received_total",
                        "starling_packets_sent_total", "starling_bytes_received_total", "starling_bytes_sent_total",
                        "starling_messages_received_total", "starling_messages_sent_total",
                        "starling_messages_dropped_total", "starling_authentications_total",
                        "starling_authorizations_total", "starling_plugins_pending_timeouts_total"]
        XCTAssertEqual(Set(exposition.families.keys), Set(gauges + counters))
        for name in gauges { XCTAssertEqual(exposition.families[name]?.type, "gauge", name) }
        for name in counters { XCTAssertEqual(exposition.families[name]?.type, "counter", name) }
        for (name, family) in exposition.families { XCTAssertFalse(family.help?.isEmpty ?? true, "HELP of \(name)") }
        XCTAssertTrue(text.contains("# TYPE starling_messages_received_total counter\n"))

        XCTAssertEqual(exposition.value("starling_connections"), 2)
        XCTAssertEqual(exposition.value("starling_sessions"), 2)
        XCTAssertEqual(exposition.value("starling_subscriptions"), 1)
        XCTAssertEqual(exposition.value("starling_connects_total"), 2)
        XCTAssertGreaterThanOrEqual(exposition.value("starling_messages_received_total") ?? 0, 7)
        XCTAssertEqual(exposition.value("starling_packets_received_total", ["type": "publish"]), 7)
        XCTAssertEqual(exposition.value("starling_packets_received_total", ["type": "connect"]), 2)
        XCTAssertEqual(exposition.value("starling_packets_sent_total", ["type": "puback"]), 7)
        XCTAssertGreaterThanOrEqual(exposition.value("starling_messages_sent_total") ?? 0, 5)
        XCTAssertEqual(exposition.value("starling_messages_dropped_total", ["reason": "no_subscribers"]), 2)
        XCTAssertEqual(exposition.value("starling_messages_dropped_total", ["reason": "queue_full"]), 0)
        XCTAssertGreaterThan(exposition.value("starling_bytes_received_total") ?? 0, 7 * 10)
        XCTAssertGreaterThan(exposition.value("starling_bytes_sent_total") ?? 0, 5 * 10)
        XCTAssertEqual(exposition.value("starling_authentications_total", ["result": "anonymous"]), 2)
        XCTAssertEqual(exposition.value("starling_authentications_total", ["result": "failure"]), 0)
        XCTAssertEqual(exposition.value("starling_authorizations_total", ["action": "publish", "result": "deny"]), 0)
        XCTAssertEqual(exposition.families["starling_packets_sent_total"]?.samples.count, 11)
        XCTAssertNil(exposition.value("starling_packets_sent_total", ["type": "connect"]), "clients send CONNECT, brokers do not")
        XCTAssertEqual(Set(exposition.families["starling_disconnects_total"]?.samples.map { $0.labels["reason"] ?? "" } ?? []),
                       Set(DisconnectReason.allCases.map(\.rawValue)))
    }

    /// Counters report the kernel's totals, not the sum of every scrape; disconnects show up by reason.
    func testRepeatedScrapesDoNotAddUp() async throws {
        let exporter = MetricsExporter(broker: node.broker)
        let client = try await connect("metrics-once")
        try await client.publish("a/b", payload: "x", qos: .atLeastOnce)
        let first = PrometheusExposition(exporter.prometheusText())
        let second = PrometheusExposition(exporter.prometheusText())
        XCTAssertEqual(first.value("starling_packets_received_total", ["type": "publish"]), 1)
        XCTAssertEqual(second.value("starling_packets_received_total", ["type": "publish"]), 1)
        XCTAssertEqual(second.value("starling_connects_total"), 1)

        try await client.disconnect()
        let broker = node.broker
        try await waitUntil("the disconnect counted") { broker.stats.disconnectsTotal == 1 }
        let third = PrometheusExposition(exporter.prometheusText())
        XCTAssertEqual(third.value("starling_disconnects_total", ["reason": "normal"]), 1)
        XCTAssertEqual(third.value("starling_connections"), 0)
        XCTAssertEqual(third.value("starling_connects_total"), 1)
    }

    /// Two nodes in one process keep their metrics apart (a registry each, no global bootstrap).
    func testTwoNodesInOneProcess() async throws {
        let other = try await TestNode.start()
        let here: PrometheusExposition
        do {
            _ = try await connect("metrics-here")
            here = PrometheusExposition(MetricsExporter(broker: node.broker).prometheusText())
        } catch {
            await other.stop()
            throw error
        }
        let there = PrometheusExposition(MetricsExporter(broker: other.broker).prometheusText())
        await other.stop()
        XCTAssertEqual(here.value("starling_connections"), 1)
        XCTAssertEqual(there.value("starling_connections"), 0)
        XCTAssertEqual(there.value("starling_connects_total"), 0)
    }
}

/// The process-wide swift-metrics backend, bootstrapped once.
final class ProcessMetricsTests: XCTestCase {
    func testOnlyTheFirstBootstrapTakesAndOtherMetricsAppear() async throws {
        let node = try await TestNode.start()
        let first = MetricsExporter(broker: node.broker)
        let second = MetricsExporter(broker: node.broker)
        let firstWon = first.bootstrapProcessMetrics()
        let secondWon = second.bootstrapProcessMetrics()
        await node.stop()
        XCTAssertTrue(firstWon)
        XCTAssertFalse(secondWon)
        Counter(label: "plugin_things_total").increment(by: 3)
        XCTAssertEqual(PrometheusExposition(first.prometheusText()).value("plugin_things_total"), 3)
        XCTAssertNil(PrometheusExposition(second.prometheusText()).value("plugin_things_total"))
    }
}
