import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// What the kernel calls on a node that is part of a cluster (`StarlingCluster` implements it).
/// A node without a cookie has none, and its publish path pays one nil check for it.
public protocol ClusterAttachment: AnyObject, Sendable {
    /// A filter got its first local subscriber, or a shared group its first local member (then
    /// `filter` is `$share/{group}/{filter}`, see `SharedGroupKey.routeFilter`). Called with the
    /// router's write lock held, in the order the table changed: only record it, never block or call back.
    func localRouteAdded(_ filter: String)
    /// The last local subscriber of a filter (or member of a shared group) left. Same rules as
    /// `localRouteAdded`.
    func localRouteRemoved(_ filter: String)
    /// Hands `message` to each other node whose routes match its topic, once per node; returns
    /// how many nodes it went to. Called on the publishing event loop (`loopIndex` is that loop's
    /// index in the broker's group), after the local match; it must not block.
    func forward(_ message: Message, loopIndex: Int) -> Int
    /// The other nodes' routes: filter to node names (for the API). Any thread.
    func remoteRoutes() -> [String: [String]]
    /// The shared groups with members on other nodes whose filters match `topic` (empty, after
    /// one atomic load, when no other node has any). On the publishing loop; must not block.
    func remoteSharedGroups(matching topic: String, loopIndex: Int) -> [RemoteSharedGroup]
    /// Hands `message` to `node` for `group`: that node delivers it to one of its members of the
    /// group only. On the publishing loop, batched like `forward`.
    func forward(_ message: Message, to node: String, for group: SharedGroupKey, loopIndex: Int)
    /// This node's name in the cluster (`name@host`): retained changes are stamped with it.
    var name: String { get }
    /// A retained topic changed on this node (`message` nil: deleted): replicate it to every
    /// peer. Called on any loop, only for retained publishes and deletes; must not block.
    func retainedChanged(topic: String, message: Message?, stamp: RetainedStamp)

    /// Registers this node as the holder of `clientId` with the node that owns the id in the
    /// cluster's client registry (one owner per id, so of racing connects on several nodes
    /// exactly one is the last to claim it). `completion`, on any thread, gets the node that held
    /// the id until now: nil for none, this node's own name for a session here. Called on a
    /// connection's loop at CONNECT, after the local registry's claim; must not block.
    func claimClient(_ clientId: String, completion: @escaping @Sendable (String?) -> Void)
    /// Asks `node` to hand its session for `clientId` over to this node (the connection there
    /// is closed; 5.0: DISCONNECT 0x8E). `completion`, on any thread, gets the session's state
    /// (`resume`), or nil: no session there, discarded as asked, or no answer in time.
    func takeOverClient(_ clientId: String, from node: String, resume: Bool,
                        completion: @escaping @Sendable (ByteBuffer?) -> Void)
    /// This node no longer holds a session for `clientId` (it ended, or moved to another node).
    /// Any loop; must not block.
    func clientReleased(_ clientId: String)
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

extension Broker {
    /// Connects the cluster to the kernel: local route changes from now on go to `cluster`, and
    /// publishes are offered to it for forwarding; retained changes are stamped as its. Returns the
    /// filters and shared groups subscribed at this instant, taken atomically with the switch, so
    /// a snapshot plus the stream miss nothing.
    public func attach(cluster: ClusterAttachment) -> [String] {
        clusterBox.withLockedValue { $0 = cluster }
        retained.replicate(as: cluster.name)
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

    /// Delivers a message another node forwarded to this node for the shared group `group`: to one
    /// local member of the group (by the strategy), nobody else. Must be called on `loop`. Returns
    /// whether a member took it (none when the group's last member here left meanwhile: counted as
    /// dropped, no subscribers).
    @discardableResult
    public func deliverForwarded(_ message: Message, for group: SharedGroupKey, on loop: EventLoop) -> Bool {
        let context = context(for: loop)
        guard let delivery = router.sharedDelivery(for: group, topic: message.topic, publisherId: message.publisherId) else {
            context.noteDrop(.noSubscribers, message, subscriberId: nil, qos: message.qos)
            return false
        }
        if delivery.session.isLocal {
            deliverLocally(message, delivery, from: context)
        } else {
            context.deliver(message, delivery)
        }
        if delivery.session.context === context { context.noteForwardBacklog(delivery.session) }
        return true
    }

    /// Writes and flushes what deliveries on `loop` have batched so far (the end of a read burst
    /// does the same). A peer's forward frame may carry thousands of messages: flushing every few
    /// hundred lets subscribers' sockets drain as they arrive instead of after the whole frame.
    /// Must be called on `loop`.
    public func flushDeliveries(on loop: EventLoop) {
        context(for: loop).flush()
    }

    /// Whether an online session (on any loop) still holds a queue that forwarded messages built up
    /// (a subscriber slower than the link). A link delivering forwarded messages waits while this
    /// is true, so the backlog stays in TCP (and on the sender) rather than overflowing the
    /// session's queue. Called on `loop`, the link's; other loops are asked to re-check their
    /// sessions, and answer by the next call.
    public func hasForwardBacklog(on loop: EventLoop) -> Bool {
        var congested = false
        for context in contexts where context.hasForwardBacklogs.load(ordering: .relaxed) {
            if context.loop === loop {
                context.pruneForwardBacklogs()
                congested = congested || context.hasForwardBacklogs.load(ordering: .relaxed)
            } else {
                context.loop.execute { context.pruneForwardBacklogs() }
                congested = true
            }
        }
        return congested
    }

    /// Completes (on `loop`) once every other loop has run what was handed to it so far — the
    /// deliveries of forwarded messages to its sessions included — and re-checked its sessions'
    /// backlogs. Nil when the broker has one loop. A link uses it to pace its deliveries.
    public func handoffBarrier(from loop: EventLoop) -> EventLoopFuture<Void>? {
        guard contexts.count > 1 else { return nil }
        let others = contexts.filter { $0.loop !== loop }.map { context in
            context.loop.submit { context.pruneForwardBacklogs() }
        }
        return EventLoopFuture.andAllComplete(others, on: loop)
    }

    /// Applies a retained change another node made (`message` nil: deleted) when it is newer than
    /// what this node holds for the topic (last writer wins by stamp). Any thread.
    @discardableResult
    public func applyReplicatedRetained(topic: String, message: Message?, stamp: RetainedStamp) -> Bool {
        retained.apply(topic: topic, message: message?.retainedCopy(), stamp: stamp)
    }

    /// Every replicated retained topic with its message (nil: a recent delete) and stamp: what a
    /// peer gets when its link comes up. Any thread.
    public func replicatedRetained() -> [(topic: String, message: Message?, stamp: RetainedStamp)] {
        retained.replicatedSet(now: .now())
    }

    /// Forgets retained deletes older than a day (their tombstones). Any thread; O(retained topics).
    public func pruneRetainedTombstones() {
        retained.pruneTombstones()
    }

    /// The event loops of the broker's group, in index order (`forward`'s `loopIndex`).
    public var eventLoops: [EventLoop] { contexts.map(\.loop) }
}
