import Atomics
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore

/// The hooks whose answer may be pending.
public enum PendingHook: UInt64, Sendable {
    case clientConnect = 1
    case authenticate = 2
    case authorizePublish = 3
    case authorizeSubscribe = 4
    case enhancedAuth = 5

    /// As the header and the logs name it.
    public var name: String {
        switch self {
        case .clientConnect: "client_connect"
        case .authenticate: "authenticate"
        case .authorizePublish: "authorize_publish"
        case .authorizeSubscribe: "authorize_subscribe"
        case .enhancedAuth: "enhanced_auth"
        }
    }
}

/// The number a hook completes a pending answer with. Unique among a broker's open tickets: the
/// issuing loop's own counter above the hook and the loop's index, so issuing one takes no shared
/// state, and the hook is known from the number alone.
public struct PendingTicket: Sendable, Hashable {
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }

    static let loopBits: UInt64 = 12
    static let hookBits: UInt64 = 4

    init(counter: UInt64, hook: PendingHook, loopIndex: Int) {
        value = counter << (Self.loopBits + Self.hookBits) | hook.rawValue << Self.loopBits | UInt64(loopIndex + 1)
    }

    var loopIndex: Int { Int(value & ((1 << Self.loopBits) - 1)) - 1 }

    /// The hook the ticket was issued for (nil: not a ticket this broker issued).
    public var hook: PendingHook? { PendingHook(rawValue: (value >> Self.loopBits) & ((1 << Self.hookBits) - 1)) }
}

/// The later answer to a hook that answered pending.
public struct HookCompletion: Sendable, Equatable {
    /// `.allow`, `.deny` or `.ignore` (resume the chain at the next hook).
    public var decision: HookDecision
    /// authorize_subscribe: the QoS to grant (nil: as it stood; it may only be lowered).
    public var qos: QoS?
    /// Enhanced authentication: continue the exchange (AUTH 0x18) instead of deciding.
    public var continueAuthentication: Bool
    /// Enhanced authentication: Authentication Data for the answer.
    public var authenticationData: ByteBuffer?

    public init(_ decision: HookDecision, qos: QoS? = nil, continueAuthentication: Bool = false,
                authenticationData: ByteBuffer? = nil) {
        self.decision = decision
        self.qos = qos
        self.continueAuthentication = continueAuthentication
        self.authenticationData = authenticationData
    }
}

/// The open tickets of a broker: requests a hook answered `pending` for, each waiting for its
/// completion, its timeout, or its client to go.
///
/// A ticket's owner stays counted as a call in flight (`HookOwner.enter`) from the pending answer
/// until the ticket closes, so unloading a plugin waits for its open tickets like for its running
/// calls. A completion may come before the connection has recorded the pending answer (the hook
/// handed the ticket to a thread that answered at once): while a loop runs a hook with a ticket,
/// `ticketInCall` names it, and an answer for it is kept until the connection picks it up.
final class PendingTickets: Sendable {
    private struct Waiter {
        let connection: MQTTConnection
        let owner: HookOwner
        let hook: String
    }

    private enum Slot {
        case waiting(Waiter)
        /// Answered before the connection recorded it as pending.
        case answered(HookOwner, HookCompletion)
    }

    private let slots = NIOLockedValueBox<[UInt64: Slot]>([:])
    private let contexts: [LoopContext]

    init(contexts: [LoopContext]) {
        self.contexts = contexts
    }

    /// Open tickets (waiting for an answer).
    var count: Int { slots.withLockedValue { $0.count } }

    /// Takes `completion` for `ticket` if `owner` holds it open: hands it to the connection's
    /// loop and closes the ticket. False for an unknown, foreign, answered, timed-out or
    /// cancelled ticket.
    func complete(_ ticket: UInt64, by owner: HookOwner, _ completion: HookCompletion) -> Bool {
        let waiter = slots.withLockedValue { slots -> Waiter?? in
            switch slots[ticket] {
            case .waiting(let waiter) where waiter.owner === owner:
                slots[ticket] = nil
                return .some(waiter)
            case nil:
                let index = PendingTicket(ticket).loopIndex
                guard contexts.indices.contains(index),
                      contexts[index].ticketInCall.load(ordering: .acquiring) == ticket else { return nil }
                slots[ticket] = .answered(owner, completion)
                return .some(nil)
            default:
                return nil
            }
        }
        guard let waiter else { return false }
        if let waiter {
            waiter.owner.leave()
            let connection = waiter.connection
            connection.loopContext.loop.execute { connection.resume(ticket, completion) }
        }
        return true
    }

    /// Records that `connection` waits for `ticket`, held open by `owner` on behalf of `hook`.
    /// Returns the answer when it came already (the ticket is then closed). Called on the
    /// connection's loop while `ticketInCall` still names the ticket.
    func open(_ ticket: UInt64, connection: MQTTConnection, owner: HookOwner, hook: String) -> HookCompletion? {
        let early = slots.withLockedValue { slots -> HookCompletion? in
            if case .answered(let by, let completion) = slots[ticket] {
                slots[ticket] = nil
                if by === owner { return completion }
            }
            slots[ticket] = .waiting(Waiter(connection: connection, owner: owner, hook: hook))
            return nil
        }
        if early != nil { owner.leave() }
        return early
    }

    /// Closes `ticket` without an answer (timeout, or the client went): returns the owner's name
    /// and the hook when it was still open.
    @discardableResult
    func close(_ ticket: UInt64) -> (plugin: String, hook: String)? {
        let waiter = slots.withLockedValue { slots -> Waiter? in
            guard case .waiting(let waiter) = slots[ticket] else { return nil }
            slots[ticket] = nil
            return waiter
        }
        guard let waiter else { return nil }
        waiter.owner.leave()
        return (waiter.owner.name, waiter.hook)
    }
}
