/// Why a connected client's connection ended, as metrics and `$SYS` disconnect events name it.
public enum DisconnectReason: String, CaseIterable, Sendable {
    /// The client sent DISCONNECT.
    case normal
    /// Nothing arrived within the keep alive (× multiplier).
    case keepaliveTimeout = "keepalive_timeout"
    /// Another connection with the same client id took the session over.
    case takeover
    /// An operator kicked the client.
    case kicked
    /// The client broke a protocol rule or sent a malformed packet.
    case protocolError = "protocol_error"
    /// The socket closed or failed without a DISCONNECT.
    case socketError = "socket_error"
    /// The node is stopping.
    case serverShutdown = "server_shutdown"
}

/// The outcome of authenticating a CONNECT.
public enum AuthenticationResult: String, CaseIterable, Sendable {
    /// Credentials checked and accepted.
    case success
    /// Refused: bad credentials, or anonymous access is off.
    case failure
    /// Accepted without credentials (anonymous access).
    case anonymous
}

/// What an authorization check was about.
public enum AuthorizationAction: String, CaseIterable, Sendable {
    case publish
    case subscribe
}

/// The outcome of an authorization check.
public enum AuthorizationResult: String, CaseIterable, Sendable {
    case allow
    case deny
}
