/// The `[cluster]` section: how this node meets others. The node's name is `node.name`
/// (also settable as `cluster.name` and `--name`); it is kept in `BrokerSettings.nodeName`.
public struct ClusterConfig: Sendable, Equatable {
    /// The cluster port that opens when a cookie is set (`--cluster-port`).
    public static let defaultPort = 4370

    /// The shared secret of the cluster (`--cookie`, `STARLING_CLUSTER__COOKIE`). Nil: no cluster,
    /// and the cluster port stays closed.
    public var cookie: String?
    /// The port node-to-node links are accepted on; 0 picks a free one.
    public var port: Int
    /// The address the cluster port binds; nil binds the host of the node name.
    public var bind: String?
    /// Nodes (`NAME@HOST[:PORT]`) to join at start-up: a static cluster forms by itself.
    public var seeds: [String]
    /// How often a link sends a heartbeat, in milliseconds.
    public var heartbeatIntervalMilliseconds: Int
    /// A peer silent this long (milliseconds) is declared down and its routes are purged.
    public var downAfterMilliseconds: Int

    public init(cookie: String? = nil, port: Int = ClusterConfig.defaultPort, bind: String? = nil, seeds: [String] = [],
                heartbeatIntervalMilliseconds: Int = 1000, downAfterMilliseconds: Int = 3000) {
        self.cookie = cookie
        self.port = port
        self.bind = bind
        self.seeds = seeds
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.downAfterMilliseconds = downAfterMilliseconds
    }

    /// True when a cookie is set: the node opens its cluster port and may join others.
    public var isEnabled: Bool { cookie != nil }
}
