import Prometheus
import StarlingKernel

/// A node's metrics in the Prometheus text format, for `GET /api/v1/prometheus`.
///
/// Each exporter has a Prometheus registry of its own (no process-wide `MetricsSystem`
/// bootstrap, so several nodes can run in one process), filled by a `MetricsCollector` when the
/// text is asked for: scraping costs one stats snapshot, the hot path nothing.
public final class MetricsExporter: Sendable {
    /// The content type of `prometheusText()`: the text exposition format 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The registry the node's metrics are kept in; other Prometheus metrics may be added to it.
    public let registry: PrometheusCollectorRegistry
    private let collector: MetricsCollector

    public init(broker: Broker) {
        registry = PrometheusCollectorRegistry()
        collector = MetricsCollector(broker: broker, factory: PrometheusHelpFactory(registry: registry))
    }

    /// Every metric as of now, in the Prometheus text exposition format.
    public func prometheusText() -> String {
        collector.collect()
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
