/// The subscribers and shared groups matching one topic, as of one route-table generation.
struct CachedRoute {
    let generation: UInt64
    let subscribers: [Subscriber]
    let groups: [SharedGroup]
    /// Whether some session had several filters when this was computed (merging may be needed).
    let mayOverlap: Bool
}

/// One event loop's memo of recent topic matches. Publishers tend to reuse topics, so most
/// publishes find their route here without walking the tree or taking the router's lock.
/// Loop-bound: no locking.
final class RouteCache {
    private var routes: [String: CachedRoute] = [:]
    /// Past this many topics the memo starts over (many distinct topics gain nothing from it).
    private let capacity: Int

    init(capacity: Int = 8_192) { self.capacity = capacity }

    /// The cached route for `topic` if it is still current.
    @inline(__always)
    func route(for topic: String, generation: UInt64) -> CachedRoute? {
        guard let route = routes[topic], route.generation == generation else { return nil }
        return route
    }

    func store(_ route: CachedRoute, for topic: String) {
        if routes.count >= capacity { routes.removeAll(keepingCapacity: true) }
        routes[topic] = route
    }
}
