import MQTTCore

/// What a connection said about itself at CONNECT (kept by its session while offline).
public struct ConnectionInfo: Sendable, Equatable {
    public var username: String?
    /// The peer's address, `HOST:PORT`.
    public var peer: String?
    public var protocolVersion: ProtocolVersion
    public var keepAlive: Int
    public var cleanStart: Bool
    /// When the connection was accepted, in seconds since 1970.
    public var connectedAt: Int64
    /// TLS below MQTT; nil for a plain TCP or WebSocket connection.
    public var security: TransportSecurity? = nil
}

/// A client session at one moment, as the kernel reports it to the operator (the HTTP API
/// shapes it as JSON in `StarlingAdmin`).
public struct ClientInfo: Sendable, Equatable {
    public var clientId: String
    public var username: String?
    public var peer: String?
    /// "3.1", "3.1.1" or "5.0".
    public var protocolVersion: String
    public var connected: Bool
    public var keepAlive: Int
    public var cleanStart: Bool
    /// Seconds since 1970 of the last connect.
    public var connectedAt: Int64?
    public var sessionExpiryInterval: UInt32
    public var subscriptions: Int
    public var inflight: Int
    public var queued: Int
    /// The TLS version of the last connection ("tlsv1.3"); nil without TLS.
    public var tlsVersion: String? = nil
    /// The subject CN of the last connection's verified client certificate; nil without one.
    public var peerCertCommonName: String? = nil
}

/// One subscription of one session.
public struct SubscriptionInfo: Sendable, Equatable {
    public var clientId: String
    /// The filter as subscribed, `$share/…` included.
    public var filter: String
    public var qos: Int
    public var noLocal: Bool
    public var retainAsPublished: Bool
    public var retainHandling: Int
    public var subscriptionIdentifier: UInt32?

    init(clientId: String, filter: String, options: SubscriptionOptions) {
        self.clientId = clientId
        self.filter = filter
        self.qos = Int(options.qos.rawValue)
        self.noLocal = options.noLocal
        self.retainAsPublished = options.retainAsPublished
        self.retainHandling = Int(options.retainHandling.rawValue)
        self.subscriptionIdentifier = options.identifier
    }
}

/// One entry of the route table: a topic filter and the nodes holding subscribers for it.
public struct RouteInfo: Sendable, Equatable {
    public var filter: String
    public var nodes: [String]
}

/// A retained message at one moment, as the kernel reports it to the operator.
public struct RetainedInfo: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var properties: Properties
    /// Seconds until it expires, or nil.
    public var expiresIn: Int64?
}
