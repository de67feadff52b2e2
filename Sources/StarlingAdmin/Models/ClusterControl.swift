/// What the HTTP API and `starling ctl cluster` steer: join, leave, status. `StarlingServer`
/// provides it over the node's cluster membership; a node without a cookie has none.
public protocol ClusterControl: Sendable {
    /// The cluster as this node sees it.
    func status() async -> ClusterStatus
    /// Links this node to `node` (`NAME@HOST[:PORT]`) and, through it, to every member; returns
    /// once the link is up, or throws why not within `timeoutSeconds`.
    func join(node: String, timeoutSeconds: Double) async throws(ClusterJoinError) -> ClusterStatus
    /// Tells every member this node leaves, then drops every link and forgets the members.
    func leave() async -> ClusterStatus
}

/// The cluster as one node sees it (`GET /api/v1/cluster`).
public struct ClusterStatus: Sendable, Codable, Equatable {
    /// This node's name.
    public var node: String
    /// True when the node has a cookie (and its cluster port is open).
    public var enabled: Bool
    /// The bound cluster port (0 when not enabled).
    public var clusterPort: Int
    /// Routes this node owns (filters with a local subscriber, shared groups with a local member).
    public var localRoutes: Int
    /// Routes of other nodes this node holds.
    public var remoteRoutes: Int
    /// Every other member this node knows, sorted by name.
    public var members: [ClusterMemberStatus]
    /// Client ids this node owns in the cluster's client registry (it orders their connects).
    public var ownedClientIds: Int

    public init(node: String, enabled: Bool, clusterPort: Int, localRoutes: Int, remoteRoutes: Int,
                members: [ClusterMemberStatus], ownedClientIds: Int = 0) {
        self.node = node
        self.enabled = enabled
        self.clusterPort = clusterPort
        self.localRoutes = localRoutes
        self.remoteRoutes = remoteRoutes
        self.members = members
        self.ownedClientIds = ownedClientIds
    }
}

/// One other member of the cluster.
public struct ClusterMemberStatus: Sendable, Codable, Equatable {
    public var name: String
    /// `HOST:PORT` of its cluster port.
    public var address: String
    /// `up`, `down` or `connecting`.
    public var state: String
    /// Its routes as this node holds them.
    public var routes: Int
    /// The link: `dialled` or `accepted`, with `local -> remote` addresses; nil when down.
    public var link: String?
    /// Milliseconds since a frame last came from it (nil when down).
    public var lastHeardMs: Int?
    /// Messages forwarded to it, received from it, and lost on the way to it (link down).
    public var forwardedOut: Int
    public var forwardedIn: Int
    public var forwardsLost: Int

    public init(name: String, address: String, state: String, routes: Int, link: String?, lastHeardMs: Int?,
                forwardedOut: Int, forwardedIn: Int, forwardsLost: Int) {
        self.name = name
        self.address = address
        self.state = state
        self.routes = routes
        self.link = link
        self.lastHeardMs = lastHeardMs
        self.forwardedOut = forwardedOut
        self.forwardedIn = forwardedIn
        self.forwardsLost = forwardsLost
    }
}

/// Why a join failed.
public struct ClusterJoinError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case badNode = "bad_node"
        case notClustered = "not_clustered"
        case wrongCookie = "wrong_cookie"
        case nameClash = "name_clash"
        case unreachable
        case timeout
        case refused
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
