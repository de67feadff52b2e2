import MQTTCore
import NIOCore

/// A CONNECT to authenticate. Borrowed by the hooks for the call only.
public struct AuthenticationRequest: Sendable {
    public var clientId: String
    public var username: String?
    public var password: ByteBuffer?
    /// `IP:PORT` (IPv6 as `[IP]:PORT`), or empty when unknown.
    public var peer: String
    public var protocolVersion: ProtocolVersion
    /// Set when the hook may answer `.pending` (then complete with this ticket).
    public var ticket: PendingTicket? = nil
}

/// A PUBLISH from a connected client, before it is routed.
public struct PublishAuthorizationRequest: Sendable {
    public var clientId: String
    public var username: String?
    /// The topic name, alias resolved.
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    /// Set when the hook may answer `.pending`.
    public var ticket: PendingTicket? = nil
}

/// One filter of a SUBSCRIBE. Hooks that do not deny may lower `qos`.
public struct SubscribeAuthorizationRequest: Sendable {
    public var clientId: String
    public var username: String?
    /// The filter as the client sent it (with its `$share/GROUP/` prefix).
    public var filter: String
    /// The QoS to grant: the request capped by the node's maximum.
    public var qos: QoS
    /// Set when the hook may answer `.pending` (completed with an optional lower QoS).
    public var ticket: PendingTicket? = nil
}

/// A CONNECT before authentication. A hook that denies may set `reasonCode` (CONNACK).
public struct ClientConnectRequest: Sendable {
    public var clientId: String
    public var username: String?
    public var peer: String
    public var protocolVersion: ProtocolVersion
    /// As the client asked.
    public var keepAlive: Int
    public var cleanStart: Bool
    public var hasWill: Bool
    /// The MQTT 5 Authentication Method, if any.
    public var authenticationMethod: String?
    /// Set when the hook may answer `.pending`.
    public var ticket: PendingTicket? = nil
}

/// A connection accepted (CONNACK sent).
public struct ClientConnectedNotice: Sendable {
    public var clientId: String
    public var username: String?
    public var peer: String
    public var protocolVersion: ProtocolVersion
    public var keepAlive: Int
    public var cleanStart: Bool
    public var sessionPresent: Bool
}

/// A connection that was announced as connected has ended.
public struct ClientDisconnectedNotice: Sendable {
    public var clientId: String
    public var username: String?
    public var initiator: DisconnectInitiator
    /// The DISCONNECT reason code sent or received; `.success` when the connection was lost.
    public var reasonCode: ReasonCode
}
