import MQTTCore

/// What an authentication or authorization hook answers. The first `allow` or `deny` in priority
/// order decides; `ignore` passes to the next hook.
public enum HookDecision: Sendable, Equatable {
    case allow
    /// Refuse, with the MQTT 5 reason code to send where the packet has one (CONNACK).
    case deny(ReasonCode)
    case ignore
    /// The answer follows through `HookRegistry.complete(_:by:_:)` with the request's `ticket`
    /// (only when the request has one; without it `pending` counts as a deny). The chain is
    /// suspended for that client alone until then, or until `pendingTimeout` denies.
    case pending
}

/// What decides when every hook passes (`authentication.no_match`, `authorization.no_match`).
public enum NoMatchPolicy: String, Sendable, Equatable, CaseIterable {
    case allow
    case deny
}

/// Who ended a connection, as `client_disconnected` hooks hear it.
public enum DisconnectInitiator: Sendable, Equatable {
    /// The client sent DISCONNECT.
    case client
    /// The broker closed it (protocol error, keep alive, take-over, kick, shutdown).
    case server
    /// The socket closed without DISCONNECT.
    case connectionLost
}
