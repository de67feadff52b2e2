import NIOCore

/// The cluster as this node sees it at one moment: what `ClusterMember` reports to the operator.
/// `StarlingServer` turns it into the API's `ClusterStatus`.
public struct ClusterSnapshot: Sendable {
    /// This node's name.
    public var node: String
    /// The bound cluster port.
    public var clusterPort: Int
    /// Routes this node owns (filters with a subscriber here, shared groups with a member here).
    public var localRoutes: Int
    /// Every other member this node knows, sorted by name.
    public var peers: [PeerSnapshot]
    /// Client ids this node owns in the cluster's client registry (it orders their connects).
    public var ownedClientIds: Int
}

/// One other member of the cluster as this node knows it.
public struct PeerSnapshot: Sendable {
    public var address: PeerAddress
    public var state: PeerState
    /// Its routes as this node holds them.
    public var routes: Int
    /// The live link to it; nil when there is none.
    public var link: LinkSnapshot?
    /// Messages forwarded to it, received from it, and lost on the way to it (link down).
    public var forwardedOut: Int
    public var forwardedIn: Int
    public var forwardsLost: Int
}

/// Whether a peer is a member this node can reach.
public enum PeerState: String, Sendable {
    case up, down, connecting
}

/// One live link to a peer.
public struct LinkSnapshot: Sendable {
    /// True when this node dialled it, false when the peer did.
    public var dialled: Bool
    /// `local -> remote` socket addresses.
    public var addresses: String
    /// How long since a frame last came over it.
    public var silence: TimeAmount
}

/// Why joining a node failed.
public struct JoinFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The text is not `NAME@HOST[:PORT]`.
        case badNode
        /// The peer answered that the cookies differ.
        case wrongCookie
        /// The name is this node's own, or the peer already knows another node of that name.
        case nameClash
        /// The peer refused the link for another reason.
        case refused
        /// No link could be opened.
        case unreachable
        /// No answer within the time given.
        case timeout
    }

    public var kind: Kind
    public var message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
