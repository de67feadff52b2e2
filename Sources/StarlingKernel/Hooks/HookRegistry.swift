import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// The broker's hook chain as the control path changes it (plugin load, unload, reload).
///
/// Each event loop keeps its own copy of the chains (`LoopContext.withHooks`), read without a lock on
/// every packet. `update` changes the master copy and hands the result to every loop as a task;
/// since hook calls run synchronously on their loop, once a loop has run that task no call on it
/// can still be inside a hook the change removed. So when `update` returns, removed hooks are
/// neither running nor reachable, and added ones are in force on every loop: a reload that adds
/// the new version and removes the old one in one update leaves no gap and no overlap on a loop.
/// Hook lists a suspended connection keeps to resume its chain later are reached only while
/// their owners are active: `barrier()` after `HookOwner.deactivate()` covers those.
public final class HookRegistry: Sendable {
    private struct State {
        var chains = HookChains()
        var version = 0
    }

    private let state = NIOLockedValueBox(State())
    private let sequence = ManagedAtomic<Int>(0)
    private let contexts: [LoopContext]
    /// Requests hooks answered `pending` for.
    let tickets: PendingTickets

    init(contexts: [LoopContext]) {
        self.contexts = contexts
        self.tickets = PendingTickets(contexts: contexts)
    }

    /// Answers a request a hook of `owner` answered `.pending` for: `ticket` is the request's.
    /// Callable from any thread; the answer is applied on the client's event loop. False when the
    /// ticket is unknown, not `owner`'s, already answered, timed out, or its client has gone.
    @discardableResult
    public func complete(_ ticket: PendingTicket, by owner: HookOwner, _ completion: HookCompletion) -> Bool {
        tickets.complete(ticket.value, by: owner, completion)
    }

    /// Requests waiting for a hook's pending answer.
    public var openTickets: Int { tickets.count }

    /// The chains in force (the master copy).
    public var chains: HookChains { state.withLockedValue { $0.chains } }

    /// A new owner, ordered after every owner made before it.
    public func makeOwner(name: String) -> HookOwner {
        HookOwner(name: name, sequence: sequence.loadThenWrappingIncrement(ordering: .relaxed))
    }

    /// Applies `change` and returns once every event loop uses the result.
    public func update(_ change: (inout HookChains) -> Void) async {
        let (chains, version) = state.withLockedValue { state -> (HookChains, Int) in
            change(&state.chains)
            state.version += 1
            return (state.chains, state.version)
        }
        let applied = contexts.map { context in
            let chains = chains.unshared()
            return context.loop.submit {
                // Updates may reach a loop out of order: the newest wins.
                if version > context.hooksVersion {
                    context.installHooks(chains)
                    context.hooksVersion = version
                }
            }
        }
        for future in applied { try? await future.get() }
    }

    /// Returns once every event loop has run a task queued now: a hook call that was running on
    /// a loop when this was called has returned, and one that starts later sees an owner
    /// deactivated before this call as inactive (see `HookOwner`).
    public func barrier() async {
        let passed = contexts.map { $0.loop.submit {} }
        for future in passed { try? await future.get() }
    }
}
