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
        var pluginCounters: [String: (counter: CoreMetrics.Counter, reported: Int64)] = [:]
        var pluginGauges: [String: CoreMetrics.Gauge] = [:]
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
            collectPluginMetrics(&state)
        }
    }

    /// Plugins' counters and gauges as `starling_plugin_<name>{plugin="<plugin>"}`; the series
    /// of an unloaded plugin leave the registry.
    private func collectPluginMetrics(_ state: inout State) {
        var current = Set<String>()
        for sample in broker.pluginMetrics.samples {
            let name = MetricCatalog.pluginPrefix + sample.name
            let labels = [("plugin", sample.plugin)]
            let key = Self.key(name, labels)
            current.insert(key)
            switch sample.kind {
            case .counter:
                var entry = state.pluginCounters[key] ?? (CoreMetrics.Counter(label: name, dimensions: labels, factory: factory), 0)
                if sample.value > entry.reported {
                    entry.counter.increment(by: sample.value - entry.reported)
                    entry.reported = sample.value
                }
                state.pluginCounters[key] = entry
            case .gauge:
                let gauge = state.pluginGauges[key] ?? CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
                gauge.record(sample.value)
                state.pluginGauges[key] = gauge
            }
        }
        for (key, entry) in state.pluginCounters where !current.contains(key) {
            entry.counter.destroy()
            state.pluginCounters[key] = nil
        }
        for (key, gauge) in state.pluginGauges where !current.contains(key) {
            gauge.destroy()
            state.pluginGauges[key] = nil
        }
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "|\($1.0)=\($1.1)" }
    }
}
