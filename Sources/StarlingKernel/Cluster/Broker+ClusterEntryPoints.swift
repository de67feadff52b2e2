import NIOCore

/// What the cluster calls on the kernel: attaching, messages other nodes forwarded (the second
/// entry point of the publish path, beside `Broker.publish`), the pacing of their delivery, and
/// replicated retained messages.
extension Broker {
    /// Connects the cluster to the kernel: local route changes from now on go to `cluster`, and
    /// the router names other nodes for publishes; retained changes are stamped as its. Returns the
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

    /// Delivers a message another node forwarded to this node's own plain subscribers (never
    /// forwarded again, never stored as retained here, no `message_publish` hooks: they ran on the
    /// publishing node). Must be called on `loop`, one of the broker's loops. Returns the number of
    /// sessions it was handed to.
    @discardableResult
    public func deliverForwarded(_ message: Message, on loop: EventLoop) -> Int {
        let context = context(for: loop)
        var destinations = context.takeDestinations()
        defer { context.returnDestinations(&destinations) }
        router.routeForwarded(message, cache: context.routeCache, into: &destinations.sessions)
        deliverForwarded(message, to: destinations.sessions, from: context)
        return destinations.sessions.count
    }

    /// Delivers a message another node forwarded to this node for the shared group `group`: to one
    /// local member of the group (by the strategy), nobody else. Must be called on `loop`. Returns
    /// whether a member took it (none when the group's last member here left meanwhile: counted as
    /// dropped, no subscribers).
    @discardableResult
    public func deliverForwarded(_ message: Message, for group: SharedGroupKey, on loop: EventLoop) -> Bool {
        let context = context(for: loop)
        guard let member = router.sharedDelivery(for: group, topic: message.topic, publisherId: message.publisherId) else {
            deliverForwarded(message, to: [], from: context)
            return false
        }
        deliverForwarded(message, to: CollectionOfOne(member), from: context)
        return true
    }

    /// Hands a forwarded message to `sessions` and notes the sessions of this loop it left with a
    /// queue (the link then waits for them, see `hasForwardBacklog`).
    private func deliverForwarded(_ message: Message, to sessions: some Collection<Delivery>, from context: LoopContext) {
        if sessions.isEmpty { context.noteDrop(.noSubscribers, message, subscriberId: nil, qos: message.qos) }
        deliver(message, to: sessions, from: context)
        for delivery in sessions where delivery.session.context === context {
            context.forwardBacklog.note(delivery.session)
        }
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
        for context in contexts where context.forwardBacklog.isSet.load(ordering: .relaxed) {
            if context.loop === loop {
                context.forwardBacklog.prune()
                congested = congested || context.forwardBacklog.isSet.load(ordering: .relaxed)
            } else {
                context.loop.execute { context.forwardBacklog.prune() }
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
            context.loop.submit { context.forwardBacklog.prune() }
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

    /// The event loops of the broker's group, in index order (`loopIndex` in `ClusterAttachment`).
    public var eventLoops: [EventLoop] { contexts.map(\.loop) }
}
