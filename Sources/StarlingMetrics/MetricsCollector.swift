import CoreMetrics
import NIOConcurrencyHelpers
import StarlingKernel

/// Carries the kernel's counters into swift-metrics.
///
/// The kernel counts on its hot path in per-event-loop memory (no swift-metrics call per
/// message); each `collect()` takes one `Broker.stats` snapshot (every loop added up) and brings
/// the swift-metrics of `MetricCatalog` up to it: counters move on by what changed since the last
/// collect, gauges are set. Every series exists from the first collect (made at `init`), zero
/// included. Works with any swift-metrics backend; `MetricsExporter` pairs it with Prometheus.
public final class MetricsCollector: Sendable {
    private let broker: Broker
    private let factory: any MetricsFactory
    private let state = NIOLockedValueBox(State())

    private struct State: @unchecked Sendable {  // only touched under the box's lock
        var counters: [String: (counter: CoreMetrics.Counter, reported: Int)] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
    }

    /// - Parameter factory: where the metrics go; the process's bootstrapped backend by default.
    public init(broker: Broker, factory: any MetricsFactory = MetricsSystem.factory) {
        self.broker = broker
        self.factory = factory
        collect()
    }

    /// Brings every metric up to the broker's counters now. Safe from any thread.
    public func collect() {
        let stats = broker.stats
        state.withLockedValue { state in
            for definition in MetricCatalog.all {
                for series in definition.read(stats) {
                    let key = Self.key(definition.name, series.labels)
                    switch definition.kind {
                    case .counter:
                        var entry = state.counters[key] ?? (
                            CoreMetrics.Counter(label: definition.name, dimensions: series.labels, factory: factory), 0)
                        if series.value > entry.reported {
                            entry.counter.increment(by: series.value - entry.reported)
                            entry.reported = series.value
                        }
                        state.counters[key] = entry
                    case .gauge:
                        let gauge = state.gauges[key]
                            ?? CoreMetrics.Gauge(label: definition.name, dimensions: series.labels, factory: factory)
                        gauge.record(series.value)
                        state.gauges[key] = gauge
                    }
                }
            }
        }
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "|\($1.0)=\($1.1)" }
    }
}
