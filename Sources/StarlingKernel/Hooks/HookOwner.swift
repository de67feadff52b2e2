import Atomics

/// Whoever registered hooks (a loaded plugin): its name, whether its hooks may still be called,
/// and how many calls into them are running.
///
/// A call enters only while the owner is active; `deactivate()` makes every later call skip the
/// owner's hooks at once, on every thread, and `callsInFlight` then only falls. Unloading a plugin
/// deactivates its owner, takes its hooks out of the chain and waits for the count to reach zero
/// before the plugin's code goes away.
public final class HookOwner: Sendable {
    /// The plugin's name, for logs ("refused by plugin NAME").
    public let name: String
    /// Orders owners whose hooks have equal priority: lower first. A reloaded plugin keeps the
    /// sequence of the version it replaces, and so its place in the chain.
    public let sequence: Int
    private let active = ManagedAtomic<Bool>(true)
    private let inFlight = ManagedAtomic<Int>(0)

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
        inFlight.wrappingIncrement(ordering: .sequentiallyConsistent)
        if active.load(ordering: .sequentiallyConsistent) { return true }
        leave()
        return false
    }

    @inline(__always)
    public func leave() {
        inFlight.wrappingDecrement(ordering: .releasing)
    }

    /// From now on no new call enters this owner's hooks.
    public func deactivate() {
        active.store(false, ordering: .sequentiallyConsistent)
    }

    public var isActive: Bool { active.load(ordering: .sequentiallyConsistent) }

    /// Calls into this owner's hooks that have entered and not yet returned.
    public var callsInFlight: Int { inFlight.load(ordering: .sequentiallyConsistent) }

    /// Returns once no call is running inside this owner's hooks. Deactivate first, or new calls
    /// may keep it waiting.
    public func waitUntilIdle() async {
        while inFlight.load(ordering: .acquiring) > 0 {
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
    }
}
