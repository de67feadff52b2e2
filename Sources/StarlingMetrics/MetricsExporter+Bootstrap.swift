import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

extension MetricsExporter {
    private static let bootstrapped = NIOLockedValueBox(false)

    /// Makes this exporter's registry the process's swift-metrics backend, so that metrics other
    /// code reports through `MetricsSystem` (libraries, Swift plugins) appear in
    /// `prometheusText()` too. `MetricsSystem.bootstrap` may run once per process: the first call
    /// wins and returns true; any later one (another node in the same process, as tests start)
    /// returns false and changes nothing. The node's own metrics never need it.
    @discardableResult
    public func bootstrapProcessMetrics() -> Bool {
        let registry = self.registry
        return Self.bootstrapped.withLockedValue { done in
            guard !done else { return false }
            done = true
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            return true
        }
    }
}
