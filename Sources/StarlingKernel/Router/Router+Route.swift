/// The router's answers to the three questions a message asks: where a message published on this
/// node goes (everywhere in the cluster), where a plain forward from another node goes (this
/// node's plain subscribers), and which member of a shared group takes a group forward.
extension Router {
    /// Every destination of `message`, published on this node: this node's matching sessions and,
    /// in a cluster (`remote`), the other nodes with matching routes and the node picked for each
    /// shared group with members elsewhere. `cache` is the calling loop's memo; `loopIndex` names
    /// that loop to the cluster's own memos.
    func route(_ message: Message, cache: RouteCache, remote: ClusterAttachment?, loopIndex: Int,
               into destinations: inout Destinations) {
        guard let remote else {
            return match(topic: message.topic, publisherId: message.publisherId, cache: cache, into: &destinations.sessions)
        }
        destinations.nodes = remote.nodes(matching: message.topic, loopIndex: loopIndex)
        let remoteGroups = remote.remoteSharedGroups(matching: message.topic, loopIndex: loopIndex)
        if remoteGroups.isEmpty {
            return match(topic: message.topic, publisherId: message.publisherId, cache: cache, into: &destinations.sessions)
        }
        matchSharingAcrossCluster(message, remoteGroups, cache: cache, into: &destinations)
    }

    /// A message another node forwarded for its plain subscribers: this node's plain subscribers
    /// only (the publishing node dispatched the shared groups).
    func routeForwarded(_ message: Message, cache: RouteCache, into sessions: inout [Delivery]) {
        match(topic: message.topic, publisherId: message.publisherId, cache: cache, into: &sessions,
              admitGroup: { _ in false })
    }

    /// The local match when other nodes hold members of matching shared groups: every group gets
    /// the message once, here (a local member, in `sessions`) or on the one other node picked for it.
    private func matchSharingAcrossCluster(_ message: Message, _ remoteGroups: [RemoteSharedGroup], cache: RouteCache,
                                           into destinations: inout Destinations) {
        var decided = [Bool](repeating: false, count: remoteGroups.count)
        let strategy = self.strategy
        // The answer's own storage, taken out while `sessions` is being filled (the closure cannot
        // reach into `destinations` then): no allocation per message.
        var forwards: [Destinations.GroupForward] = []
        swap(&forwards, &destinations.groupForwards)
        match(topic: message.topic, publisherId: message.publisherId, cache: cache, into: &destinations.sessions) { key in
            guard let index = remoteGroups.firstIndex(where: { $0.key == key }) else { return true }
            decided[index] = true
            guard let node = remoteGroups[index].pickNode(includingThisNode: true, message, strategy) else { return true }
            forwards.append(Destinations.GroupForward(node: node, group: key))
            return false
        }
        for (index, group) in remoteGroups.enumerated() where !decided[index] {
            guard let node = group.pickNode(includingThisNode: false, message, strategy) else { continue }
            forwards.append(Destinations.GroupForward(node: node, group: group.key))
        }
        swap(&forwards, &destinations.groupForwards)
    }
}

extension RemoteSharedGroup {
    /// The node that gets the group's message: one of `nodes`, or nil for this node (a candidate,
    /// last in the order, when it holds members too).
    func pickNode(includingThisNode: Bool, _ message: Message, _ strategy: SharedDispatchStrategy) -> String? {
        let count = nodes.count + (includingThisNode ? 1 : 0)
        guard count > 0 else { return nil }
        let value: Int
        switch strategy {
        case .roundRobin: value = cursor.loadThenWrappingIncrement(ordering: .relaxed)
        case .random: value = Int.random(in: 0..<count)
        case .hashClientId: value = (message.publisherId ?? "").hashValue
        case .hashTopic: value = message.topic.hashValue
        }
        let index = Int(UInt(bitPattern: value) % UInt(count))
        return index < nodes.count ? nodes[index] : nil
    }
}
