import StarlingKernel

/// A client session in the API's JSON.
struct ClientJSON: Encodable, Sendable {
    var clientid: String
    @Nullable var username: String?
    /// The peer's IP address and port of the last connection.
    @Nullable var ip: String?
    @Nullable var port: Int?
    /// "3.1", "3.1.1" or "5.0".
    var protoVer: String
    var connected: Bool
    var keepalive: Int
    var cleanStart: Bool
    /// Seconds since 1970 of the last connect.
    @Nullable var connectedAt: Int64?
    var sessionExpiryInterval: UInt32
    var subscriptionsCount: Int
    var inflight: Int
    var queued: Int
    /// The last connection's TLS version ("tlsv1.3"); absent (not null) without TLS.
    var tlsVersion: String?
    /// The subject CN of the last connection's verified client certificate; absent without one.
    var peerCertCn: String?

    init(_ info: ClientInfo) {
        clientid = info.clientId
        username = info.username
        (ip, port) = Self.split(peer: info.peer)
        protoVer = info.protocolVersion
        connected = info.connected
        keepalive = info.keepAlive
        cleanStart = info.cleanStart
        connectedAt = info.connectedAt
        sessionExpiryInterval = info.sessionExpiryInterval
        subscriptionsCount = info.subscriptions
        inflight = info.inflight
        queued = info.queued
        tlsVersion = info.tlsVersion
        peerCertCn = info.peerCertCommonName
    }

    /// `1.2.3.4:5` or `[::1]:5` as its address and port.
    static func split(peer: String?) -> (String?, Int?) {
        guard let peer, let colon = peer.lastIndex(of: ":") else { return (peer, nil) }
        var host = peer[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return (String(host), Int(peer[peer.index(after: colon)...]))
    }

}

/// One subscription in the API's JSON.
struct SubscriptionJSON: Encodable, Sendable {
    var clientid: String
    /// The filter as subscribed, `$share/…` included.
    var topic: String
    var qos: Int
    var noLocal: Bool
    var retainAsPublished: Bool
    var retainHandling: Int
    @Nullable var subscriptionIdentifier: UInt32?

    init(_ info: SubscriptionInfo) {
        clientid = info.clientId
        topic = info.filter
        qos = info.qos
        noLocal = info.noLocal
        retainAsPublished = info.retainAsPublished
        retainHandling = info.retainHandling
        subscriptionIdentifier = info.subscriptionIdentifier
    }

}

/// `GET /clients/{clientid}`: the client and its subscriptions.
struct ClientDetailJSON: Encodable, Sendable {
    var client: ClientJSON
    var subscriptions: [SubscriptionJSON]
}

/// One route in the API's JSON.
struct RouteJSON: Encodable, Sendable {
    var topic: String
    var nodes: [String]
}
