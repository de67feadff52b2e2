import NIOCore

/// The members' live links, as the route stream, retained replication and the client registry
/// see them. On the node's loop.
protocol PeerDirectory: AnyObject, Sendable {
    /// The links of the members that have one.
    var links: [PeerLink] { get }
    /// The live link of `peer`, if any.
    func link(of peer: String) -> PeerLink?
    /// The members that are up, this node included: the owners of client ids.
    var upNodes: [String] { get }
}

/// What membership tells its node: links to create (through the node's `LinkDelegate`) and
/// peers that are gone, whose routes and client ids the node forgets.
protocol MembershipOwner: LinkDelegate {
    /// `peer` is down or left: purge what it owned; returns the routes and sessions purged.
    func peerGone(_ peer: String) -> (routes: Int, sessions: Int)
}
