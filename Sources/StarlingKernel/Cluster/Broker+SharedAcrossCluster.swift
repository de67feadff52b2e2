/// Shared subscription groups whose members sit on several nodes: each message goes to one
/// member cluster-wide. The publishing node picks the node (this one or another holding members)
/// by the shared-subscription strategy; the node picked delivers to one of its own members.
extension Broker {
    /// The local match of `message` in a cluster where other nodes hold members of matching shared
    /// groups: every group gets the message once, here (a local member, in `deliveries`) or
    /// forwarded to one other node for the group. Returns how many such forwards were made.
    func matchSharingAcrossCluster(_ message: Message, _ remoteGroups: [RemoteSharedGroup], cluster: ClusterAttachment,
                                   context: LoopContext, into deliveries: inout [Delivery]) -> Int {
        var decided = [Bool](repeating: false, count: remoteGroups.count)
        var forwards = 0
        let strategy = router.strategy
        router.match(topic: message.topic, publisherId: message.publisherId, cache: context.routeCache,
                     into: &deliveries) { key in
            guard let index = remoteGroups.firstIndex(where: { $0.key == key }) else { return true }
            decided[index] = true
            guard let node = Self.pickNode(remoteGroups[index], includingThisNode: true, message, strategy) else { return true }
            cluster.forward(message, to: node, for: key, loopIndex: context.index)
            forwards += 1
            return false
        }
        for (index, group) in remoteGroups.enumerated() where !decided[index] {
            guard let node = Self.pickNode(group, includingThisNode: false, message, strategy) else { continue }
            cluster.forward(message, to: node, for: group.key, loopIndex: context.index)
            forwards += 1
        }
        return forwards
    }

    /// The node that gets the group's message: one of `group.nodes`, or nil for this node (a
    /// candidate, last in the order, when it holds members too).
    static func pickNode(_ group: RemoteSharedGroup, includingThisNode: Bool, _ message: Message,
                         _ strategy: SharedDispatchStrategy) -> String? {
        let count = group.nodes.count + (includingThisNode ? 1 : 0)
        guard count > 0 else { return nil }
        let value: Int
        switch strategy {
        case .roundRobin: value = group.cursor.loadThenWrappingIncrement(ordering: .relaxed)
        case .random: value = Int.random(in: 0..<count)
        case .hashClientId: value = (message.publisherId ?? "").hashValue
        case .hashTopic: value = message.topic.hashValue
        }
        let index = Int(UInt(bitPattern: value) % UInt(count))
        return index < group.nodes.count ? group.nodes[index] : nil
    }
}
