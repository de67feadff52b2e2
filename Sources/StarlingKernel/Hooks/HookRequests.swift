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

/// Who a request comes from: a connected client's id and user name, fixed once its CONNECT is
/// accepted. Immutable, so that hooks read its strings in place.
public final class ClientIdentity: Sendable {
    public let clientId: String
    public let username: String?

    public init(clientId: String, username: String?) {
        self.clientId = clientId
        self.username = username
    }
}

/// A PUBLISH from a connected client, before it is routed.
///
/// Noncopyable and borrowed by each hook for its call only: it refers to the publisher and to the
/// PUBLISH where they are, without holding them, so asking a plugin about a PUBLISH copies no
/// string or buffer and costs no reference counting.
public struct PublishAuthorizationRequest: ~Copyable {
    private let publisher: Unmanaged<ClientIdentity>
    private let publishAddress: UnsafePointer<Publish>
    /// Set when the hook may answer `.pending`.
    public var ticket: PendingTicket?

    /// A request about the PUBLISH at `publish` from `publisher`; both must stay in place while
    /// the request exists.
    init(publisher: Unmanaged<ClientIdentity>, publish: UnsafePointer<Publish>, ticket: PendingTicket? = nil) {
        self.publisher = publisher
        publishAddress = publish
        self.ticket = ticket
    }

    /// The PUBLISH, topic alias resolved, read in place.
    public var publish: Publish {
        unsafeAddress { publishAddress }
    }

    /// Runs `body` with the publisher, borrowed.
    @inline(__always)
    public func withPublisher<R>(_ body: (ClientIdentity) -> R) -> R {
        publisher._withUnsafeGuaranteedRef(body)
    }

    public var clientId: String { withPublisher { $0.clientId } }
    public var username: String? { withPublisher { $0.username } }
    /// The topic name, alias resolved.
    public var topic: String { publish.topic }
    public var payload: ByteBuffer { publish.payload }
    public var qos: QoS { publish.qos }
    public var retain: Bool { publish.retain }
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
