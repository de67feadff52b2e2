import MQTTCore
import NIOCore

/// What a CONNECT and the node's settings agree on: the session's expiry, the limits the broker
/// keeps towards the client, the keep alive, and the CONNACK properties that tell a 5.0 client.
/// Pure, so that it is tested without a channel.
struct ConnectNegotiation: Equatable {
    var sessionExpiry: UInt32
    /// QoS 1/2 messages the client may have unacknowledged: its receive maximum, capped by `session.max_inflight`.
    var sendQuota: Int
    /// The largest packet the client accepts.
    var clientMaximumPacketSize = Int.max
    var clientTopicAliasMaximum = 0
    var keepAlive: Int
    /// CONNACK's properties (5.0; a 3.x CONNACK has none).
    var ackProperties = Properties()

    /// `assignedClientId`: the id the broker made for an empty one. `authentication`: the method
    /// of a successful enhanced authentication and its final data.
    init(_ connect: Connect, clientId: String, assignedClientId: String?,
         authentication: (method: String, data: ByteBuffer?)?, settings: BrokerSettings) {
        let sessionSettings = settings.session
        keepAlive = Int(connect.keepAlive)
        guard connect.protocolVersion == .v5 else {
            // 3.x: a persistent session lives until the node's cap.
            sessionExpiry = connect.cleanStart ? 0 : UInt32(clamping: sessionSettings.maxSessionExpiry)
            sendQuota = sessionSettings.maxInflight
            return
        }
        let requested = connect.properties.sessionExpiryInterval ?? 0
        sessionExpiry = min(requested, UInt32(clamping: sessionSettings.maxSessionExpiry))
        if sessionExpiry != requested { ackProperties.sessionExpiryInterval = sessionExpiry }
        sendQuota = min(Int(connect.properties.receiveMaximum ?? 65_535), sessionSettings.maxInflight)
        clientMaximumPacketSize = Int(connect.properties.maximumPacketSize ?? UInt32.max)
        clientTopicAliasMaximum = Int(connect.properties.topicAliasMaximum ?? 0)
        if let assignedClientId { ackProperties.assignedClientIdentifier = assignedClientId }
        if connect.properties.requestResponseInformation == 1 {
            // A topic prefix the client may use for response topics.
            ackProperties.responseInformation = "responses/\(clientId)"
        }
        announceLimits(settings)
        if let authentication {
            ackProperties.authenticationMethod = authentication.method
            if let data = authentication.data { ackProperties.authenticationData = data }
        }
        // Keep alive: 5.0 clients may be told a different value.
        let serverKeepAlive = settings.mqtt.serverKeepAlive
        if serverKeepAlive > 0, serverKeepAlive != keepAlive {
            keepAlive = serverKeepAlive
            ackProperties.serverKeepAlive = UInt16(clamping: keepAlive)
        }
    }

    /// The node's limits a 5.0 client hears in CONNACK (each only where it differs from the default).
    private mutating func announceLimits(_ settings: BrokerSettings) {
        let limits = settings.mqtt
        if settings.session.receiveMaximum < 65_535 {
            ackProperties.receiveMaximum = UInt16(settings.session.receiveMaximum)
        }
        ackProperties.maximumPacketSize = UInt32(limits.maxPacketSize)
        if limits.maxTopicAlias > 0 { ackProperties.topicAliasMaximum = UInt16(limits.maxTopicAlias) }
        if limits.maxQoS < 2 { ackProperties.maximumQoS = UInt8(limits.maxQoS) }
        if !limits.retainAvailable { ackProperties.retainAvailable = 0 }
        if !limits.wildcardSubscriptionAvailable { ackProperties.wildcardSubscriptionAvailable = 0 }
        if !limits.subscriptionIdentifiersAvailable { ackProperties.subscriptionIdentifierAvailable = 0 }
        if !limits.sharedSubscriptionAvailable { ackProperties.sharedSubscriptionAvailable = 0 }
    }
}
