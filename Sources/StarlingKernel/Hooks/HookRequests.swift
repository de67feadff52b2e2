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
}

/// One filter of a SUBSCRIBE. Hooks that do not deny may lower `qos`.
public struct SubscribeAuthorizationRequest: Sendable {
    public var clientId: String
    public var username: String?
    /// The filter as the client sent it (with its `$share/GROUP/` prefix).
    public var filter: String
    /// The QoS to grant: the request capped by the node's maximum.
    public var qos: QoS
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
