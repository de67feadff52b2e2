import MQTTCore

/// What an authentication or authorization hook answers. The first `allow` or `deny` in priority
/// order decides; `ignore` passes to the next hook.
public enum HookDecision: Sendable, Equatable {
    case allow
    /// Refuse, with the MQTT 5 reason code to send where the packet has one (CONNACK).
    case deny(ReasonCode)
    case ignore
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
