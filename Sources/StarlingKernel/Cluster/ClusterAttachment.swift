import NIOConcurrencyHelpers
import NIOCore

/// What the kernel calls on a node that is part of a cluster (`StarlingCluster` implements it).
/// A node without a cookie has none, and its publish path pays one nil check for it.
public protocol ClusterAttachment: AnyObject, Sendable {
    /// A plain (non-shared) filter got its first local subscriber. Called with the router's write
    /// lock held, in the order the table changed: only record it, never block or call back.
    func localRouteAdded(_ filter: String)
    /// The last local subscriber of a plain filter left. Same rules as `localRouteAdded`.
    func localRouteRemoved(_ filter: String)
    /// Hands `message` to each other node whose routes match its topic, once per node; returns
    /// how many nodes it went to. Called on the publishing event loop (`loopIndex` is that loop's
    /// index in the broker's group), after the local match; it must not block.
    func forward(_ message: Message, loopIndex: Int) -> Int
    /// The other nodes' routes: filter to node names (for the API). Any thread.
    func remoteRoutes() -> [String: [String]]
}

extension Broker {
    /// Connects the cluster to the kernel: local route changes from now on go to `cluster`, and
    /// publishes are offered to it for forwarding. Returns the plain filters subscribed at this
    /// instant, taken atomically with the switch, so a snapshot plus the stream miss nothing.
    public func attach(cluster: ClusterAttachment) -> [String] {
        clusterBox.withLockedValue { $0 = cluster }
        let filters = router.observe(cluster)
        for context in contexts {
            context.loop.execute { context.cluster = cluster }
        }
        return filters
    }

    /// Delivers a message another node forwarded to this node's own subscribers (never forwarded
    /// again, never stored as retained here). Must be called on `loop`, one of the broker's loops.
    /// Returns the number of sessions it was handed to.
    @discardableResult
    public func deliverForwarded(_ message: Message, on loop: EventLoop) -> Int {
        publish(message, from: context(for: loop), fromPeer: true)
    }

    /// Writes and flushes what deliveries on `loop` have batched so far (the end of a read burst
    /// does the same). A peer's forward frame may carry thousands of messages: flushing every few
    /// hundred lets subscribers' sockets drain as they arrive instead of after the whole frame.
    /// Must be called on `loop`.
    public func flushDeliveries(on loop: EventLoop) {
        context(for: loop).flush()
    }

    /// Whether a session of `loop` still holds a queue that forwarded messages built up while it
    /// was online (a subscriber slower than the link). A link delivering forwarded messages on
    /// `loop` waits while this is true, so the backlog stays in TCP (and the sender) rather than
    /// overflowing the session's queue. Must be called on `loop`.
    public func hasForwardBacklog(on loop: EventLoop) -> Bool {
        let context = context(for: loop)
        if context.forwardBacklogs.isEmpty { return false }
        context.forwardBacklogs.removeAll { $0.connection == nil || $0.queuedCount == 0 }
        return !context.forwardBacklogs.isEmpty
    }

    /// The event loops of the broker's group, in index order (`forward`'s `loopIndex`).
    public var eventLoops: [EventLoop] { contexts.map(\.loop) }
}
