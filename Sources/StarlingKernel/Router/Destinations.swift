/// Every destination of one message, as the router answers for it: this node's sessions (clients'
/// subscriptions, plugin subscriptions, the member a shared group picked here) and other nodes
/// (once each for their plain subscribers, and once per shared group whose member is picked there).
/// One loop reuses one instance for all its publishes (`LoopContext.takeDestinations`).
struct Destinations {
    /// Sessions on this node. A plugin subscription is a session whose `sink` takes the message.
    var sessions: [Delivery] = []
    /// Other nodes with a subscriber of a matching filter: one plain forward each. Assigned whole
    /// from the cluster's per-loop memo, never appended to.
    var nodes: [String] = []
    /// Shared groups whose member is picked on another node: one forward each, to that node only.
    var groupForwards: [GroupForward] = []

    /// A shared group's message for the one node picked for it.
    struct GroupForward {
        let node: String
        let group: SharedGroupKey
    }

    /// How many destinations: what a publisher's acknowledgement counts (a node counts as one).
    @inline(__always)
    var count: Int { sessions.count + nodes.count + groupForwards.count }

    /// Whether the message leaves this node.
    @inline(__always)
    var leavesThisNode: Bool { !nodes.isEmpty || !groupForwards.isEmpty }

    /// Empties the answer for the next message, keeping the sessions' storage.
    @inline(__always)
    mutating func reset() {
        sessions.removeAll(keepingCapacity: true)
        if !nodes.isEmpty { nodes = [] }
        if !groupForwards.isEmpty { groupForwards.removeAll(keepingCapacity: true) }
    }
}
