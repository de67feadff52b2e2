import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// The cluster as the kernel sees it: everything the kernel asks of the other nodes goes through
/// this protocol (`StarlingCluster.ClusterMember` implements it). A node without a cookie has none,
/// and its publish path pays one nil check for it.
///
/// Four concerns: the route stream (this node's routes, told to every peer), other nodes' routes
/// (asked by the router for every publish), forwarding, retained replication, and one operation on
/// sessions: claiming a client id across the cluster, which hands over a session another node held.
public protocol ClusterAttachment: AnyObject, Sendable {
    /// This node's name in the cluster (`name@host`): retained changes are stamped with it.
    var name: String { get }

    // MARK: The route stream

    /// A filter got its first local subscriber, or a shared group its first local member (then
    /// `filter` is `$share/{group}/{filter}`, see `SharedGroupKey.routeFilter`). Called with the
    /// router's write lock held, in the order the table changed: only record it, never block or call back.
    func localRouteAdded(_ filter: String)
    /// The last local subscriber of a filter (or member of a shared group) left. Same rules as
    /// `localRouteAdded`.
    func localRouteRemoved(_ filter: String)

    // MARK: Other nodes' routes (asked by the router on the publishing loop; must not block)

    /// The other nodes with a plain route matching `topic` (empty, after one atomic load, when no
    /// other node has any). `loopIndex` is the publishing loop's index in the broker's group.
    func nodes(matching topic: String, loopIndex: Int) -> [String]
    /// The shared groups with members on other nodes whose filters match `topic` (empty, after
    /// one atomic load, when no other node has any).
    func remoteSharedGroups(matching topic: String, loopIndex: Int) -> [RemoteSharedGroup]
    /// The other nodes' routes: filter to node names (for the API). Any thread.
    func remoteRoutes() -> [String: [String]]

    // MARK: Forwarding (on the publishing loop, batched per loop tick; must not block)

    /// Hands `message` to each of `nodes`, for their plain subscribers.
    func forward(_ message: Message, to nodes: [String], loopIndex: Int)
    /// Hands `message` to `node` for `group`: that node delivers it to one of its members of the
    /// group only.
    func forward(_ message: Message, to node: String, for group: SharedGroupKey, loopIndex: Int)

    // MARK: Retained messages

    /// A retained topic changed on this node (`message` nil: deleted): replicate it to every
    /// peer. Called on any loop, only for retained publishes and deletes; must not block.
    func retainedChanged(topic: String, message: Message?, stamp: RetainedStamp)

    // MARK: Sessions

    /// Claims `clientId` for this node in the cluster-wide client registry (one owner node orders
    /// the claims of an id, so of racing connects on several nodes exactly one is the last) and,
    /// when another node held a session for it, takes that session over: that node closes its
    /// connection (5.0: DISCONNECT 0x8E) and, with `resume`, sends the session's state, which
    /// `completion` gets (on any thread); nil when no other node held one, it was discarded, or
    /// no answer came in time. Without `resume` the caller need not wait: the claim and the
    /// discarding go on in the background. Called on a connection's loop at CONNECT, after the
    /// local registry's claim; must not block.
    func claimSession(_ clientId: String, resume: Bool, completion: @escaping @Sendable (MovedSession?) -> Void)
    /// This node no longer holds a session for `clientId` (it ended, or moved to another node).
    /// Any loop; must not block.
    func sessionReleased(_ clientId: String)
}

/// A session another node handed over to this one: its state (`SessionTransfer`'s encoding) and
/// the node it came from.
public struct MovedSession: Sendable {
    public let state: ByteBuffer
    public let from: String

    public init(state: ByteBuffer, from node: String) {
        self.state = state
        self.from = node
    }
}

/// A shared group as the other nodes hold it: the nodes with at least one member (sorted), and
/// the round-robin position of this node's picks among them.
public final class RemoteSharedGroup: Sendable {
    public let key: SharedGroupKey
    public let nodes: [String]
    let cursor: ManagedAtomic<Int>

    /// - Parameter cursor: where round robin continues (the group's previous position).
    public init(key: SharedGroupKey, nodes: [String], cursor: Int = 0) {
        self.key = key
        self.nodes = nodes
        self.cursor = ManagedAtomic(cursor)
    }

    /// The round-robin position (to carry over into the group's next version).
    public var position: Int { cursor.load(ordering: .relaxed) }
}
