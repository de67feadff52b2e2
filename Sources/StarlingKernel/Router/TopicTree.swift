import Atomics
import MQTTCore

/// A subscription held by the tree: the session and its options.
struct Subscriber {
    let session: Session
    var options: SubscriptionOptions
}

/// The members of one shared subscription group at one filter.
final class SharedGroup: @unchecked Sendable {  // mutated under the router's write lock only
    let key: SharedGroupKey
    /// Members in join order; mutated only under the router's write lock.
    var members: [Subscriber] = []
    /// Round-robin position, advanced by concurrent publishers.
    let cursor = ManagedAtomic<Int>(0)

    init(key: SharedGroupKey) { self.key = key }
}

/// One level of the topic tree. Not thread-safe: `Router` guards it.
final class TopicNode {
    var children: [String: TopicNode] = [:]
    var plus: TopicNode?
    /// The `#` child: only holds subscribers (nothing can follow `#`).
    var hash: TopicNode?
    var subscribers: [ObjectIdentifier: Subscriber] = [:]
    var shared: [String: SharedGroup] = [:]

    var isEmpty: Bool {
        children.isEmpty && plus == nil && hash == nil && subscribers.isEmpty && shared.isEmpty
    }

    /// The node for `levels[index...]`, created when `create` is set.
    func descend<C: Collection>(_ levels: C, create: Bool) -> TopicNode? where C.Element == Substring {
        var node = self
        for level in levels {
            let next: TopicNode?
            switch level {
            case "+":
                if node.plus == nil, create { node.plus = TopicNode() }
                next = node.plus
            case "#":
                if node.hash == nil, create { node.hash = TopicNode() }
                next = node.hash
            default:
                let key = String(level)
                if node.children[key] == nil, create { node.children[key] = TopicNode() }
                next = node.children[key]
            }
            guard let next else { return nil }
            node = next
        }
        return node
    }

    /// Removes empty nodes along `levels` after an unsubscribe.
    func prune<C: Collection>(_ levels: C) where C.Element == Substring {
        guard let level = levels.first else { return }
        let rest = levels.dropFirst()
        switch level {
        case "+":
            plus?.prune(rest)
            if plus?.isEmpty == true { plus = nil }
        case "#":
            if hash?.isEmpty == true { hash = nil }
        default:
            let key = String(level)
            children[key]?.prune(rest)
            if children[key]?.isEmpty == true { children[key] = nil }
        }
    }

    /// Collects the subscribers and shared groups of every filter matching `levels[index...]`.
    func collect(_ levels: [Substring], _ index: Int, dollarTopic: Bool,
                 into subscribers: inout [Subscriber], groups: inout [SharedGroup]) {
        // A leading wildcard never matches a topic that starts with `$`.
        let wildcardsAllowed = !(index == 0 && dollarTopic)
        if wildcardsAllowed, let hash {
            hash.gather(into: &subscribers, groups: &groups)
        }
        if index == levels.count {
            gather(into: &subscribers, groups: &groups)
            return
        }
        if wildcardsAllowed, let plus {
            plus.collect(levels, index + 1, dollarTopic: dollarTopic, into: &subscribers, groups: &groups)
        }
        if let child = children[String(levels[index])] {
            child.collect(levels, index + 1, dollarTopic: dollarTopic, into: &subscribers, groups: &groups)
        }
    }

    private func gather(into subscribers: inout [Subscriber], groups: inout [SharedGroup]) {
        if !self.subscribers.isEmpty { subscribers.append(contentsOf: self.subscribers.values) }
        if !shared.isEmpty { groups.append(contentsOf: shared.values) }
    }

    /// Appends the filter of this node (when subscribed) and of every node below it.
    func appendFilters(prefix: String?, into result: inout [String]) {
        if let prefix {
            if !subscribers.isEmpty { result.append(prefix) }
            for group in shared.keys { result.append(SharedGroupKey(group: group, filter: prefix).routeFilter) }
        }
        func path(_ level: String) -> String { prefix.map { "\($0)/\(level)" } ?? level }
        for (level, child) in children { child.appendFilters(prefix: path(level), into: &result) }
        plus?.appendFilters(prefix: path("+"), into: &result)
        hash?.appendFilters(prefix: path("#"), into: &result)
    }
}
