/// An answer a hook chain runs on: whether it passes to the next hook or suspends the chain.
public protocol ChainAnswer: Sendable {
    /// `ignore`: the next hook is asked.
    var passes: Bool { get }
    /// `pending`: the answer follows through a ticket.
    var isPending: Bool { get }
}

extension HookDecision: ChainAnswer {
    @inline(__always) public var passes: Bool { self == .ignore }
    @inline(__always) public var isPending: Bool { self == .pending }
}

/// Message and subscription hooks: OK passes to the next hook, STOP ends the chain; never pending.
extension HookResult: ChainAnswer {
    @inline(__always) public var passes: Bool { self == .ok }
    @inline(__always) public var isPending: Bool { false }
}

/// Where one run of a hook chain ended. The owner is not retained: the list that was run holds
/// it, and an outcome does not outlive the list (a chain that allows costs no reference counting).
enum ChainOutcome<Answer: ChainAnswer> {
    /// The hook at `index` of the list decided.
    case decided(Answer, owner: Unmanaged<HookOwner>, index: Int)
    /// The hook at `index` of the list answered pending. Its owner stays counted as a call in
    /// flight until the ticket is completed, times out or is cancelled.
    case pending(owner: Unmanaged<HookOwner>, index: Int)

    /// The hook the chain ended at.
    var owner: HookOwner {
        switch self {
        case .decided(_, let owner, _), .pending(let owner, _): owner.takeUnretainedValue()
        }
    }
}

extension HookList {
    /// Calls the hooks from `start` on until one answers something else than "pass"; nil when
    /// every hook passed (or none is left). The caller offers a ticket in the request when it
    /// can suspend. Runs on an event loop (see `HookOwner`): a deactivated owner's hooks are
    /// skipped, a pending answer keeps its owner counted until the ticket closes.
    @inline(__always)
    func run<Answer: ChainAnswer>(from start: Int = 0, _ call: (Handler) -> Answer) -> ChainOutcome<Answer>? {
        var index = start
        while index < entries.count {
            defer { index += 1 }
            // Borrowed: the list holds the entry, and the closure is called from its `let`
            // without a copy (a retain and release per call otherwise).
            let answer = Unmanaged.passUnretained(entries[index])._withUnsafeGuaranteedRef { entry -> Answer? in
                entry.owner.isActive ? call(entry.handler) : nil
            }
            guard let answer else { continue }
            if answer.isPending {
                entries[index].owner.holdForTicket()
                return .pending(owner: .passUnretained(entries[index].owner), index: index)
            }
            if !answer.passes { return .decided(answer, owner: .passUnretained(entries[index].owner), index: index) }
        }
        return nil
    }

    /// The list holding only the entry at `index` (an enhanced-authentication exchange stays
    /// with the hook that continued it).
    func only(at index: Int) -> HookList {
        var list = HookList()
        list.entries = [entries[index]]
        return list
    }
}
