import Atomics
import MQTTCore

/// The local route table: which sessions subscribe to which filters, normal and shared.
/// Read on every publish under a shared lock, written on (un)subscribe under an exclusive one.
final class Router: @unchecked Sendable {  // its tree under `lock`
    private let lock = ReadWriteLock()
    private let root = TopicNode()
    private let currentStrategy: ManagedAtomic<Int>
    /// How shared groups pick a member; may change at run time (config reload).
    var strategy: SharedDispatchStrategy {
        get { SharedDispatchStrategy.allCases[currentStrategy.load(ordering: .relaxed)] }
        set { currentStrategy.store(SharedDispatchStrategy.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }
    /// Subscriptions per session, to know whether overlapping matches are possible.
    private var filtersPerSession: [ObjectIdentifier: Int] = [:]
    /// Sessions holding more than one non-shared filter; when zero a match needs no merging.
    private var sessionsWithSeveralFilters = 0
    private(set) var subscriptionCount = 0
    /// Bumped by every change to the table, so loops can tell whether a cached match is stale.
    private let generation = ManagedAtomic<UInt64>(0)
    /// Told when a filter gets its first subscriber or loses its last, and a shared group
    /// its first member or its last (as `$share/{group}/{filter}`): the cluster's route stream.
    /// Read and written under the write lock only: never on the publish path.
    private var routeObserver: ClusterAttachment?

    init(strategy: SharedDispatchStrategy) {
        self.currentStrategy = ManagedAtomic(SharedDispatchStrategy.allCases.firstIndex(of: strategy)!)
    }

    /// Adds or replaces `session`'s subscription to `filter` (plain or `$share/…`/`$queue/…`).
    /// Returns true when the subscription is new.
    @discardableResult
    func subscribe(_ session: Session, filter: String, options: SubscriptionOptions) -> Bool {
        lock.withWriteLock { subscribeLocked(session, filter: filter, options: options) }
    }

    /// Removes `session`'s subscription to `filter`; returns whether it existed.
    @discardableResult
    func unsubscribe(_ session: Session, filter: String) -> Bool {
        lock.withWriteLock { removeLocked(session, filter: filter) }
    }

    /// Removes every subscription in `filters` held by `session` (session end).
    func unsubscribeAll(_ session: Session, filters: some Sequence<String>) {
        lock.withWriteLock {
            for filter in filters { _ = removeLocked(session, filter: filter) }
        }
    }

    /// Subscribes `session` to every filter of `filters` at once (a session that moved here
    /// from another cluster node).
    func subscribeAll(_ session: Session, filters: [String: SubscriptionOptions]) {
        lock.withWriteLock {
            for (filter, options) in filters { _ = subscribeLocked(session, filter: filter, options: options) }
        }
    }

    /// Moves `old`'s subscriptions to `new` (a session resumed on another connection). The new
    /// one is added before the old one leaves, so the filter never looks unsubscribed.
    func rebind(from old: Session, to new: Session, filters: [String: SubscriptionOptions]) {
        lock.withWriteLock {
            for (filter, options) in filters {
                _ = subscribeLocked(new, filter: filter, options: options)
                _ = removeLocked(old, filter: filter)
            }
        }
    }

    /// Starts telling `observer` about first and last subscribers of filters and shared groups;
    /// returns those subscribed now (taken under the same lock, so none is missed or doubled).
    func observe(_ observer: ClusterAttachment) -> [String] {
        lock.withWriteLock {
            routeObserver = observer
            var filters: [String] = []
            root.appendFilters(prefix: nil, into: &filters)
            return filters
        }
    }

    private func subscribeLocked(_ session: Session, filter: String, options: SubscriptionOptions) -> Bool {
        generation.wrappingIncrement(ordering: .releasing)
        let subscriber = Subscriber(session: session, options: options)
        if let (group, plainFilter) = MQTTTopic.parseShared(filter) {
            let node = root.descend(plainFilter.split(separator: "/", omittingEmptySubsequences: false), create: true)!
            let sharedGroup = node.shared[group] ?? {
                let created = SharedGroup(key: SharedGroupKey(group: group, filter: plainFilter))
                node.shared[group] = created
                routeObserver?.localRouteAdded(created.key.routeFilter)
                return created
            }()
            if let index = sharedGroup.members.firstIndex(where: { $0.session === session }) {
                sharedGroup.members[index] = subscriber
                return false
            }
            sharedGroup.members.append(subscriber)
            subscriptionCount += 1
            return true
        }
        let id = ObjectIdentifier(session)
        let node = root.descend(filter.split(separator: "/", omittingEmptySubsequences: false), create: true)!
        let isNew = node.subscribers.updateValue(subscriber, forKey: id) == nil
        if isNew {
            if node.subscribers.count == 1, let routeObserver { routeObserver.localRouteAdded(filter) }
            subscriptionCount += 1
            let count = filtersPerSession[id, default: 0] + 1
            filtersPerSession[id] = count
            if count == 2 { sessionsWithSeveralFilters += 1 }
        }
        return isNew
    }

    private func removeLocked(_ session: Session, filter: String) -> Bool {
        generation.wrappingIncrement(ordering: .releasing)
        let id = ObjectIdentifier(session)
        if let (group, plainFilter) = MQTTTopic.parseShared(filter) {
            let levels = plainFilter.split(separator: "/", omittingEmptySubsequences: false)
            guard let node = root.descend(levels, create: false), let sharedGroup = node.shared[group],
                  let index = sharedGroup.members.firstIndex(where: { $0.session === session }) else { return false }
            sharedGroup.members.remove(at: index)
            if sharedGroup.members.isEmpty {
                node.shared[group] = nil
                routeObserver?.localRouteRemoved(sharedGroup.key.routeFilter)
            }
            subscriptionCount -= 1
            root.prune(levels)
            return true
        }
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        guard let node = root.descend(levels, create: false), node.subscribers.removeValue(forKey: id) != nil else {
            return false
        }
        if node.subscribers.isEmpty, let routeObserver { routeObserver.localRouteRemoved(filter) }
        subscriptionCount -= 1
        let count = filtersPerSession[id, default: 1] - 1
        if count == 1 { sessionsWithSeveralFilters -= 1 }
        filtersPerSession[id] = count == 0 ? nil : count
        root.prune(levels)
        return true
    }

    /// Every delivery for a message on `topic`: one per subscribed session (overlapping
    /// subscriptions merged: highest QoS, all identifiers) and one per shared group.
    /// `cache` is the calling loop's memo of recent matches, valid while no (un)subscribe
    /// has happened since; a hit skips the tree walk and the lock.
    func match(topic: String, publisherId: String?, cache: RouteCache, into deliveries: inout [Delivery]) {
        match(topic: topic, publisherId: publisherId, cache: cache, into: &deliveries, admitGroup: { _ in true })
    }

    /// `match`, asking `admitGroup` before picking a member of each matching shared group: false
    /// leaves the group out (in a cluster, another node's member was picked for the message).
    func match(topic: String, publisherId: String?, cache: RouteCache, into deliveries: inout [Delivery],
               admitGroup: (SharedGroupKey) -> Bool) {
        let route = cache.route(for: topic, generation: generation.load(ordering: .acquiring)) ?? {
            let fresh = lock.withReadLock { () -> CachedRoute in
                let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
                var subscribers: [Subscriber] = []
                var groups: [SharedGroup] = []
                root.collect(levels, 0, dollarTopic: topic.utf8.first == UInt8(ascii: "$"),
                             into: &subscribers, groups: &groups)
                return CachedRoute(generation: generation.load(ordering: .relaxed), subscribers: subscribers,
                                   groups: groups, mayOverlap: sessionsWithSeveralFilters > 0)
            }
            cache.store(fresh, for: topic)
            return fresh
        }()
        let start = deliveries.count
        for subscriber in route.subscribers {
            if subscriber.options.noLocal, let publisherId, subscriber.session.clientId == publisherId {
                continue
            }
            deliveries.append(Delivery(session: subscriber.session, options: subscriber.options))
        }
        if route.mayOverlap, deliveries.count - start > 1 {
            Router.mergeOverlapping(&deliveries, from: start)
        }
        if !route.groups.isEmpty {
            // Group membership changes under the write lock; read it under the read lock.
            lock.withReadLock {
                for group in route.groups where admitGroup(group.key) {
                    if let member = pick(from: group, topic: topic, publisherId: publisherId) {
                        deliveries.append(Delivery(session: member.session, options: member.options,
                                                   sharedGroup: group.key))
                    }
                }
            }
        }
    }

    /// `match` without a memo (tests, one-off lookups).
    func match(topic: String, publisherId: String?, into deliveries: inout [Delivery]) {
        match(topic: topic, publisherId: publisherId, cache: RouteCache(capacity: 1), into: &deliveries)
    }

    /// Merges deliveries to the same session into one (MQTT 5.0 section 3.3.4: one copy with the
    /// highest QoS and every matching subscription identifier).
    private static func mergeOverlapping(_ deliveries: inout [Delivery], from start: Int) {
        var merged: [ObjectIdentifier: Int] = [:]
        var index = start
        while index < deliveries.count {
            let id = ObjectIdentifier(deliveries[index].session)
            if let first = merged[id] {
                let extra = deliveries.remove(at: index)
                deliveries[first].qos = max(deliveries[first].qos, extra.qos)
                deliveries[first].retainAsPublished = deliveries[first].retainAsPublished || extra.retainAsPublished
                deliveries[first].identifiers.append(contentsOf: extra.identifiers)
            } else {
                merged[id] = index
                index += 1
            }
        }
    }

    /// Picks the member of a shared group that receives the next message, preferring connected ones.
    func pick(from group: SharedGroup, topic: String, publisherId: String?, excluding: Session? = nil) -> Subscriber? {
        let members = group.members
        guard !members.isEmpty else { return nil }
        let start: Int
        switch strategy {
        case .roundRobin:
            start = group.cursor.loadThenWrappingIncrement(ordering: .relaxed)
        case .random:
            start = Int.random(in: 0..<members.count)
        case .hashClientId:
            start = (publisherId ?? "").hashValue
        case .hashTopic:
            start = topic.hashValue
        }
        let base = Int(UInt(bitPattern: start) % UInt(members.count))
        var fallback: Subscriber? = nil
        for offset in 0..<members.count {
            let candidate = members[(base + offset) % members.count]
            if candidate.session === excluding { continue }
            if candidate.session.isOnline { return candidate }
            if fallback == nil { fallback = candidate }
        }
        return fallback
    }

    /// Picks another member of `key`'s group for a message its member `leaving` did not acknowledge.
    func redispatchTarget(for key: SharedGroupKey, topic: String, publisherId: String?, leaving: Session) -> Delivery? {
        lock.withReadLock {
            guard let group = groupLocked(key),
                  let member = pick(from: group, topic: topic, publisherId: publisherId, excluding: leaving),
                  member.session.isOnline
            else { return nil }
            return Delivery(session: member.session, options: member.options, sharedGroup: key)
        }
    }

    /// A member of `key`'s group for a message another node forwarded to this node for the group
    /// (chosen by the strategy, connected members first); nil when the group has no member here.
    func sharedDelivery(for key: SharedGroupKey, topic: String, publisherId: String?) -> Delivery? {
        lock.withReadLock {
            guard let group = groupLocked(key), let member = pick(from: group, topic: topic, publisherId: publisherId) else {
                return nil
            }
            return Delivery(session: member.session, options: member.options, sharedGroup: key)
        }
    }

    /// The shared group `key` names, if it has members. Under the lock.
    private func groupLocked(_ key: SharedGroupKey) -> SharedGroup? {
        root.descend(key.filter.split(separator: "/", omittingEmptySubsequences: false), create: false)?.shared[key.group]
    }

    /// Every filter with at least one subscriber (shared ones as `$share/GROUP/FILTER`).
    func filters() -> [String] {
        lock.withReadLock {
            var result: [String] = []
            root.appendFilters(prefix: nil, into: &result)
            return result
        }
    }

    /// Subscriptions held (plain and shared), for stats.
    var lockedSubscriptionCount: Int { lock.withReadLock { subscriptionCount } }
}
