import Synchronization

/// Whoever registered hooks (a loaded plugin): its name, whether its hooks may still be called,
/// and how many calls into them are running off the event loops.
///
/// Two ways keep a plugin's code in place while it runs:
/// - Hook calls run on event loops, from the loop's own copy of the chains: they only check
///   `isActive` (a plain load) and count nothing, because an event loop runs one task at a time.
///   Once the owner is deactivated and every loop has run a task queued after that
///   (`HookRegistry.barrier()`), no loop is inside the owner's hooks and none enters them again.
///   A per-call counter was the largest part of a do-nothing hook's cost.
/// - Calls from other threads (timers, exported functions, plugin subscriptions) and open
///   PENDING tickets are counted (`enter`/`leave`, `holdForTicket`); `waitUntilIdle` waits for them.
///
/// Unloading a plugin deactivates its owner, takes its hooks out of the chain, passes the
/// barrier and waits for the count to reach zero before the plugin's code goes away.
public final class HookOwner: Sendable {
    /// The plugin's name, for logs ("refused by plugin NAME").
    public let name: String
    /// Orders owners whose hooks have equal priority: lower first. A reloaded plugin keeps the
    /// sequence of the version it replaces, and so its place in the chain.
    public let sequence: Int
    // Stored inline (not `ManagedAtomic`, a class of its own): reading `isActive` is one load,
    // with no call and no retain of the owner around it.
    private let active = Atomic<Bool>(true)
    private let inFlight = Atomic<Int>(0)

    public init(name: String, sequence: Int) {
        self.name = name
        self.sequence = sequence
    }

    /// Counts a call in; false (and nothing counted) once the owner is deactivated. The count goes
    /// up before the flag is read, and `deactivate` clears the flag before the count is read, both
    /// sequentially consistent: a call either sees the owner inactive or is seen by the drain.
    /// Plugin services (timers, exported functions) count their calls in the same way.
    @inline(__always)
    public func enter() -> Bool {
        inFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if active.load(ordering: .sequentiallyConsistent) { return true }
        leave()
        return false
    }

    /// Counts in a hook call from an event loop that answered PENDING: the owner stays counted
    /// until the ticket closes. Runs on the loop before its turn ends, so an unload's barrier
    /// (queued behind that turn) sees the count.
    @inline(__always)
    func holdForTicket() {
        inFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    @inline(__always)
    public func leave() {
        inFlight.wrappingSubtract(1, ordering: .releasing)
    }

    /// From now on no new call enters this owner's hooks.
    public func deactivate() {
        active.store(false, ordering: .sequentiallyConsistent)
    }

    /// Whether calls may still enter. An event loop's hook call reads this alone (acquiring: a
    /// task the loop ran after `deactivate` was queued makes the store visible).
    public var isActive: Bool {
        @inline(__always) get { active.load(ordering: .acquiring) }
    }

    /// Calls into this owner's hooks that have entered and not yet returned.
    public var callsInFlight: Int { inFlight.load(ordering: .sequentiallyConsistent) }

    /// Returns once no counted call (see the type's documentation) is running inside this owner's
    /// code and no ticket of it is open. Deactivate first, or new calls may keep it waiting.
    public func waitUntilIdle() async {
        while inFlight.load(ordering: .acquiring) > 0 {
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
    }
}
