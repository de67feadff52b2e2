import StarlingKernel

/// A source of counters for `GET /api/v1/metrics`: names (dotted, e.g. `packets.received`) to values.
public typealias MetricsProvider = @Sendable () -> [String: Int]

/// What the route handlers work on.
struct AdminContext: Sendable {
    let broker: Broker
    let node: any ProcessControl
    let keys: APIKeyStore
    let peaks: PeakStats
    let metrics: [MetricsProvider]
    /// The node's plugins; nil serves no plugin routes.
    let plugins: (any PluginControl)?
    /// The node's cluster membership; nil when the node has no cookie.
    let cluster: (any ClusterControl)?
}
