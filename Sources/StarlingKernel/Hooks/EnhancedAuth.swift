import MQTTCore
import NIOCore

/// Which step of MQTT 5 enhanced authentication (5.0 section 4.12) a hook is asked about.
public enum EnhancedAuthStep: Sendable, Equatable {
    /// CONNECT carried an Authentication Method.
    case connect
    /// The client answered the broker's AUTH 0x18 with AUTH 0x18.
    case `continue`
    /// A connected client sent AUTH 0x19.
    case reauthenticate
}

/// One step of enhanced authentication.
public struct EnhancedAuthRequest: Sendable {
    public var clientId: String
    public var username: String?
    public var peer: String
    public var step: EnhancedAuthStep
    public var method: String
    /// The client's Authentication Data, if its packet had some.
    public var data: ByteBuffer?
    /// Set when the hook may answer `.pending`.
    public var ticket: PendingTicket? = nil
}

/// What an enhanced-authentication hook answers.
public enum EnhancedAuthDecision: Sendable, Equatable, ChainAnswer {
    /// Authenticated; `data` goes into CONNACK (or AUTH 0x00 on re-authentication).
    case allow(ByteBuffer?)
    /// Send AUTH 0x18 with `data`; the client's next AUTH comes back to this hook alone.
    case `continue`(ByteBuffer?)
    /// Refused: CONNACK (re-authentication: DISCONNECT) with this reason code.
    case deny(ReasonCode)
    /// Not this hook's method (in the middle of an exchange: counts as a deny).
    case ignore
    /// The answer follows through the ticket.
    case pending

    public var passes: Bool { self == .ignore }
    public var isPending: Bool { self == .pending }
}
