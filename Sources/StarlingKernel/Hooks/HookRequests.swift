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
    /// The client's TLS and verified certificate; nil over plain TCP or WebSocket.
    public var transportSecurity: TransportSecurity? = nil
}

/// Who a request comes from: a connected client's id, user name, address and TLS certificate,
/// fixed once its CONNECT is accepted. Immutable; made once per connection, it also keeps the first
/// three as NUL-terminated UTF-8 for the C plugin bridge, which then hands them to a plugin on
/// every PUBLISH without work (the certificate's strings are read in place).
public final class ClientIdentity: @unchecked Sendable {  // immutable after init
    public let clientId: String
    public let username: String?
    /// `IP:PORT` (IPv6 as `[IP]:PORT`), or empty when unknown.
    public let peer: String
    /// `clientId` as NUL-terminated UTF-8; `count` leaves the NUL out.
    public let clientIdCString: UnsafeBufferPointer<CChar>
    /// `username` likewise; nil without a user name.
    public let usernameCString: UnsafeBufferPointer<CChar>?
    /// `peer` likewise.
    public let peerCString: UnsafeBufferPointer<CChar>
    /// The client's TLS and verified certificate; nil over plain TCP or WebSocket.
    public let transportSecurity: TransportSecurity?

    public init(clientId: String, username: String?, peer: String = "", transportSecurity: TransportSecurity? = nil) {
        self.clientId = clientId
        self.username = username
        self.peer = peer
        self.transportSecurity = transportSecurity
        clientIdCString = Self.cString(clientId)
        usernameCString = username.map(Self.cString)
        peerCString = Self.cString(peer)
    }

    deinit {
        clientIdCString.deallocate()
        usernameCString?.deallocate()
        peerCString.deallocate()
    }

    /// `string`'s UTF-8 and a NUL in storage of their own (at least the NUL: an empty peer is "").
    private static func cString(_ string: String) -> UnsafeBufferPointer<CChar> {
        let count = string.utf8.count
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count + 1)
        _ = storage.initialize(from: string.utf8)
        storage[count] = 0
        return UnsafeBufferPointer(start: UnsafeRawPointer(storage.baseAddress!).assumingMemoryBound(to: CChar.self),
                                   count: count)
    }
}

/// Who asks to publish, for `authorize_publish` hooks, which get the PUBLISH itself (topic alias
/// resolved) beside it, borrowed.
///
/// Noncopyable and borrowed by each hook for its call only: it refers to the publisher without
/// holding it, so asking a plugin about a PUBLISH copies no string or buffer and costs no
/// reference counting.
public struct PublishAuthorizationRequest: ~Copyable {
    private let publisher: Unmanaged<ClientIdentity>
    /// Set when the hook may answer `.pending`.
    public var ticket: PendingTicket?

    /// A request from `publisher`, which the caller keeps alive while the request exists.
    init(publisher: Unmanaged<ClientIdentity>, ticket: PendingTicket? = nil) {
        self.publisher = publisher
        self.ticket = ticket
    }

    /// Runs `body` with the publisher, borrowed.
    @inline(__always)
    public func withPublisher<R>(_ body: (ClientIdentity) -> R) -> R {
        publisher._withUnsafeGuaranteedRef(body)
    }

    public var clientId: String { withPublisher { $0.clientId } }
    public var username: String? { withPublisher { $0.username } }
    /// `IP:PORT` (IPv6 as `[IP]:PORT`) of the client, or empty when unknown.
    public var peer: String { withPublisher { $0.peer } }
    /// The client's TLS and verified certificate; nil over plain TCP or WebSocket.
    public var transportSecurity: TransportSecurity? { withPublisher { $0.transportSecurity } }
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
    /// `IP:PORT` (IPv6 as `[IP]:PORT`) of the client, or empty when unknown.
    public var peer: String = ""
    /// The client's TLS and verified certificate; nil over plain TCP or WebSocket.
    public var transportSecurity: TransportSecurity? = nil
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
    /// The client's TLS and verified certificate; nil over plain TCP or WebSocket.
    public var transportSecurity: TransportSecurity? = nil
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
