import NIOConcurrencyHelpers
import StarlingKernel

/// A count now and the most it has been since the API started.
struct Gauge: Encodable, Sendable {
    var current: Int
    var max: Int
}

/// `GET /api/v1/stats`.
struct StatsJSON: Encodable, Sendable {
    var connections: Gauge
    var sessions: Gauge
    var subscriptions: Gauge
    /// Routes: distinct filters with at least one subscriber.
    var topics: Gauge
    var retained: Gauge
}

/// The maxima the kernel does not keep: sessions, subscriptions, topics and retained messages are
/// sampled every few seconds and at each `GET /stats`; connections use the kernel's own peak.
final class PeakStats: Sendable {
    private let peaks = NIOLockedValueBox<[String: Int]>([:])

    /// Samples the cheap counts (topics need a walk of the route table and are taken on request).
    func sample(_ broker: Broker) {
        let stats = broker.stats
        record(["sessions": stats.sessions, "subscriptions": stats.subscriptions, "retained": stats.retained])
    }

    /// The counts now, with their maxima.
    func snapshot(_ broker: Broker) -> StatsJSON {
        let stats = broker.stats
        let current = ["sessions": stats.sessions, "subscriptions": stats.subscriptions,
                       "topics": broker.routes().count, "retained": stats.retained]
        let maxima = record(current)
        func gauge(_ name: String) -> Gauge { Gauge(current: current[name]!, max: maxima[name]!) }
        return StatsJSON(connections: Gauge(current: stats.connections, max: max(stats.peakConnections, stats.connections)),
                         sessions: gauge("sessions"), subscriptions: gauge("subscriptions"),
                         topics: gauge("topics"), retained: gauge("retained"))
    }

    @discardableResult
    private func record(_ counts: [String: Int]) -> [String: Int] {
        peaks.withLockedValue { peaks in
            peaks.merge(counts) { Swift.max($0, $1) }
            return peaks
        }
    }
}
