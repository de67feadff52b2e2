import Foundation
import StarlingFFI
import StarlingMetrics
import XCTest
import StarlingTestSupport

/// `host->counter_add`/`gauge_set` in the Prometheus text, and `host->timer_start`/`timer_cancel`:
/// a repeating timer fires until it is cancelled, and unloading stops it, waiting for a firing.
final class PluginMetricsTimerTests: PluginTestCase, @unchecked Sendable {
    func testCountersAndGaugesAppearInPrometheusText() async throws {
        let plugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(plugin, name: "svc")])
        let exporter = MetricsExporter(broker: node.broker)
        XCTAssertEqual(try call("svc", "count", .string("requests_total"), .int64(5)), .int64(0))
        XCTAssertEqual(try call("svc", "count", .string("requests_total"), .int64(5)), .int64(0))
        XCTAssertEqual(try call("svc", "gauge", .string("queue_depth"), .int64(42)), .int64(0))
        XCTAssertEqual(try call("svc", "gauge", .string("requests_total"), .int64(1)), .int64(-3), "a counter's name")
        XCTAssertEqual(try call("svc", "count", .string("queue_depth"), .int64(1)), .int64(-3), "a gauge's name")
        XCTAssertEqual(try call("svc", "count", .string("requests_total"), .int64(-1)), .int64(-1), "negative delta")
        XCTAssertEqual(try call("svc", "count", .string("9lives"), .int64(1)), .int64(-1), "bad name")

        var text = exporter.prometheusText()
        XCTAssertTrue(text.contains("# TYPE starling_plugin_requests_total counter"), text)
        XCTAssertTrue(text.contains("starling_plugin_requests_total{plugin=\"svc\"} 10"), text)
        XCTAssertTrue(text.contains("# TYPE starling_plugin_queue_depth gauge"), text)
        XCTAssertTrue(text.contains("starling_plugin_queue_depth{plugin=\"svc\"} 42"), text)

        // A reload keeps the series (the new version counts on); an unload removes them.
        try await node.plugins.reload(name: "svc")
        XCTAssertEqual(try call("svc", "count", .string("requests_total"), .int64(1)), .int64(0))
        text = exporter.prometheusText()
        XCTAssertTrue(text.contains("starling_plugin_requests_total{plugin=\"svc\"} 11"), text)
        try await node.plugins.unload(name: "svc")
        text = exporter.prometheusText()
        XCTAssertFalse(text.contains("plugin=\"svc\""), text)
        XCTAssertTrue(node.broker.pluginMetrics.samples.isEmpty)
    }

    func testRepeatingTimerFiresUntilItCancelsItself() async throws {
        let plugin = try buildServicesPlugin()
        try await startNode(plugins: [entry(plugin, name: "svc", ["timer_ms": "20", "cancel_after": "5"])])
        try await log.wait(for: "timer cancelled -> 0")
        try await settle(.milliseconds(200))
        XCTAssertEqual(log.lines(containing: "tick ").count, 5, log.lines(containing: "tick ").joined(separator: "\n"))
    }

    func testUnloadStopsTheTimerAfterARunningFiring() async throws {
        let plugin = try buildServicesPlugin()
        let node = try await startNode(plugins: [entry(plugin, name: "svc", ["timer_ms": "5"])])
        try await log.wait(for: "tick 3")
        try await node.plugins.unload(name: "svc")
        let cleanup = try await log.wait(for: "cleanup after")
        XCTAssertTrue(cleanup.contains("firing 0"), "cleanup ran while a firing was running: \(cleanup)")
        let ticksAtCleanup = log.lines(containing: "tick ").count
        try await settle(.milliseconds(100))
        XCTAssertEqual(log.lines(containing: "tick ").count, ticksAtCleanup, "a tick after cleanup")
        XCTAssertTrue(cleanup.contains("after \(ticksAtCleanup) ticks"), "\(cleanup)\n" + log.lines(containing: "tick ").joined(separator: "\n"))
    }
}
