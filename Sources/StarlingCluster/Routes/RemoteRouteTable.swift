import Atomics
import MQTTCore
import NIOConcurrencyHelpers
import StarlingKernel

/// The other nodes' routes: topic filter → the set of nodes holding subscribers for it, as a topic
/// trie so a publish finds the nodes its topic matches without scanning every filter.
///
/// Shared groups (`$share/{group}/{filter}` routes) are kept apart: at the filter's trie node, each
/// group with the nodes holding members, so the publishing node can pick one node per group.
///
/// Written on the cluster's loop (route streams, snapshots, purges); read by every publishing loop.
/// Empty (no remote route at all) costs a publish one atomic load.
final class RemoteRouteTable: Sendable {
    private let state = NIOLockedValueBox(State())
    private let routeCount = ManagedAtomic<Int>(0)
    private let sharedCount = ManagedAtomic<Int>(0)
    /// Bumped by every change, so publishing loops can tell whether a cached match is stale.
    private let changes = ManagedAtomic<UInt64>(0)

    /// The current generation of the table (see `changes`).
    var generation: UInt64 { changes.load(ordering: .acquiring) }

    private struct State {
        var root = RouteNode()
        /// Each node's filters, to purge or replace them as a whole.
        var filtersByNode: [String: Set<String>] = [:]
    }

    /// True when no other node holds any plain route.
    var isEmpty: Bool { routeCount.load(ordering: .relaxed) == 0 }
    /// True when no other node holds a member of any shared group.
    var hasNoSharedGroups: Bool { sharedCount.load(ordering: .relaxed) == 0 }

    /// Adds "filter -> node"; false when it was there.
    @discardableResult
    func add(_ filter: String, node: String) -> Bool {
        state.withLockedValue { state in
            guard state.filtersByNode[node, default: []].insert(filter).inserted else { return false }
            state.root.insert(filter, node: node)
            (MQTTTopic.parseShared(filter) == nil ? routeCount : sharedCount).wrappingIncrement(ordering: .relaxed)
            changes.wrappingIncrement(ordering: .releasing)
            return true
        }
    }

    /// Removes "filter -> node"; false when it was not there.
    @discardableResult
    func remove(_ filter: String, node: String) -> Bool {
        state.withLockedValue { state in
            guard state.filtersByNode[node]?.remove(filter) != nil else { return false }
            state.root.remove(filter, node: node)
            (MQTTTopic.parseShared(filter) == nil ? routeCount : sharedCount).wrappingDecrement(ordering: .relaxed)
            changes.wrappingIncrement(ordering: .releasing)
            return true
        }
    }

    /// Replaces every route of `node` with `filters` (a snapshot).
    func replace(node: String, with filters: [String]) {
        purge(node: node)
        for filter in filters { add(filter, node: node) }
    }

    /// Removes every route of `node`; returns how many there were.
    @discardableResult
    func purge(node: String) -> Int {
        state.withLockedValue { state in
            guard let filters = state.filtersByNode.removeValue(forKey: node) else { return 0 }
            var shared = 0
            for filter in filters {
                state.root.remove(filter, node: node)
                if MQTTTopic.parseShared(filter) != nil { shared += 1 }
            }
            routeCount.wrappingDecrement(by: filters.count - shared, ordering: .relaxed)
            sharedCount.wrappingDecrement(by: shared, ordering: .relaxed)
            changes.wrappingIncrement(ordering: .releasing)
            return filters.count
        }
    }

    /// The nodes with a route matching `topic` (each once), appended to `nodes`.
    func nodes(matching topic: String, into nodes: inout [String]) {
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        state.withLockedValue { state in
            state.root.collect(topicLevels, 0, dollarTopic: topic.utf8.first == UInt8(ascii: "$"), into: &nodes)
        }
        if nodes.count > 1 {
            var seen = Set<String>()
            nodes = nodes.filter { seen.insert($0).inserted }
        }
    }

    /// The shared groups matching `topic` that other nodes hold members of, appended to `groups`.
    func sharedGroups(matching topic: String, into groups: inout [RemoteSharedGroup]) {
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        state.withLockedValue { state in
            state.root.collectShared(topicLevels, 0, dollarTopic: topic.utf8.first == UInt8(ascii: "$"), into: &groups)
        }
    }

    /// How many routes `node` holds.
    func count(of node: String) -> Int {
        state.withLockedValue { $0.filtersByNode[node]?.count ?? 0 }
    }

    /// Every route: filter → nodes.
    func all() -> [String: [String]] {
        state.withLockedValue { state in
            var table: [String: [String]] = [:]
            for (node, filters) in state.filtersByNode {
                for filter in filters { table[filter, default: []].append(node) }
            }
            return table
        }
    }

}

private func levels(_ filter: String) -> [Substring] {
    filter.split(separator: "/", omittingEmptySubsequences: false)
}

/// One level of the remote route trie. Guarded by `RemoteRouteTable`'s lock.
private struct RouteNode {
    var children: [Substring: RouteNode] = [:]
    /// Nodes whose filter ends at this level.
    var nodes: Set<String> = []
    /// Shared groups whose filter ends at this level, by group name (nodes sorted; replaced on change).
    var shared: [String: RemoteSharedGroup] = [:]

    var isEmpty: Bool { children.isEmpty && nodes.isEmpty && shared.isEmpty }

    /// Adds `node` for `filter` (plain, or a shared group's `$share/{group}/{filter}`).
    mutating func insert(_ filter: String, node: String) {
        if let (group, plain) = MQTTTopic.parseShared(filter) {
            var path = levels(plain)[...]
            insert(&path, node: node, group: SharedGroupKey(group: group, filter: plain))
        } else {
            var path = levels(filter)[...]
            insert(&path, node: node, group: nil)
        }
    }

    private mutating func insert(_ levels: inout ArraySlice<Substring>, node: String, group: SharedGroupKey?) {
        guard let level = levels.popFirst() else {
            if let group {
                let old = shared[group.group]
                let nodes = Set(old?.nodes ?? []).union([node]).sorted()
                shared[group.group] = RemoteSharedGroup(key: group, nodes: nodes, cursor: old?.position ?? 0)
            } else {
                nodes.insert(node)
            }
            return
        }
        children[level, default: RouteNode()].insert(&levels, node: node, group: group)
    }

    /// Removes `node` for `filter` (plain or shared).
    mutating func remove(_ filter: String, node: String) {
        if let (group, plain) = MQTTTopic.parseShared(filter) {
            remove(levels(plain)[...], node: node, group: group)
        } else {
            remove(levels(filter)[...], node: node, group: nil)
        }
    }

    private mutating func remove(_ levels: ArraySlice<Substring>, node: String, group: String?) {
        guard let level = levels.first else {
            if let group {
                guard let old = shared[group] else { return }
                let nodes = old.nodes.filter { $0 != node }
                shared[group] = nodes.isEmpty ? nil : RemoteSharedGroup(key: old.key, nodes: nodes, cursor: old.position)
            } else {
                nodes.remove(node)
            }
            return
        }
        children[level]?.remove(levels.dropFirst(), node: node, group: group)
        if children[level]?.isEmpty == true { children[level] = nil }
    }

    func collectShared(_ levels: [Substring], _ index: Int, dollarTopic: Bool, into result: inout [RemoteSharedGroup]) {
        let wildcards = !(index == 0 && dollarTopic)
        if wildcards, let hash = children["#"] { result.append(contentsOf: hash.shared.values) }
        if index == levels.count {
            result.append(contentsOf: shared.values)
            return
        }
        if wildcards, let plus = children["+"] { plus.collectShared(levels, index + 1, dollarTopic: dollarTopic, into: &result) }
        if let child = children[levels[index]] { child.collectShared(levels, index + 1, dollarTopic: dollarTopic, into: &result) }
    }

    func collect(_ levels: [Substring], _ index: Int, dollarTopic: Bool, into result: inout [String]) {
        let wildcards = !(index == 0 && dollarTopic)
        if wildcards, let hash = children["#"] { result.append(contentsOf: hash.nodes) }
        if index == levels.count {
            result.append(contentsOf: nodes)
            return
        }
        if wildcards, let plus = children["+"] { plus.collect(levels, index + 1, dollarTopic: dollarTopic, into: &result) }
        if let child = children[levels[index]] { child.collect(levels, index + 1, dollarTopic: dollarTopic, into: &result) }
    }
}
