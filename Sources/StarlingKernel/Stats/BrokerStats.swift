/// A snapshot of the broker's counters and gauges, summed over every event loop when it is taken.
/// Counters only grow while the node runs; dictionaries are keyed by label value and hold every
/// label value, zero included.
public struct BrokerStats: Sendable {
    /// Connections that have completed CONNECT, now.
    public var connections = 0
    /// The most connections held at once since the node started.
    public var peakConnections = 0
    /// Sessions, connected or not.
    public var sessions = 0
    /// Subscriptions held (plain and shared).
    public var subscriptions = 0
    /// Retained messages stored.
    public var retained = 0
    /// Seconds since the broker started.
    public var uptimeSeconds = 0

    /// PUBLISH packets received from clients.
    public var messagesReceived = 0
    /// PUBLISH packets sent to clients.
    public var messagesSent = 0
    /// Messages not delivered, by reason (`queue_full`, `expired`, `qos0_offline`, `too_large`,
    /// `no_subscribers`).
    public var dropped: [String: Int] = [:]
    /// Bytes read from client sockets.
    public var bytesReceived = 0
    /// Bytes written to client sockets.
    public var bytesSent = 0
    /// Packets decoded from clients, by lower-case packet type (`publish`, `pingreq`, …), for the
    /// types a client may send.
    public var packetsReceived: [String: Int] = [:]
    /// Packets sent to clients, by lower-case packet type, for the types the broker sends.
    public var packetsSent: [String: Int] = [:]

    /// Clients that completed CONNECT.
    public var connects = 0
    /// Connected clients whose connection ended, by `DisconnectReason` raw value.
    public var disconnects: [String: Int] = [:]
    /// Authentication outcomes, by `AuthenticationResult` raw value.
    public var authentications: [String: Int] = [:]
    /// Authorization outcomes, by `AuthorizationAction` then `AuthorizationResult` raw value.
    public var authorizations: [String: [String: Int]] = [:]
    /// Tickets open now: hook calls answered PENDING whose answer has not come yet.
    public var pendingOpen = 0
    /// PENDING answers that did not come within `plugin_loader.pending_timeout` (each denied).
    public var pendingTimeouts = 0

    public init() {}

    /// All messages dropped, whatever the reason.
    public var droppedTotal: Int { dropped.values.reduce(0, +) }
    /// All packets received, whatever their type.
    public var packetsReceivedTotal: Int { packetsReceived.values.reduce(0, +) }
    /// All packets sent, whatever their type.
    public var packetsSentTotal: Int { packetsSent.values.reduce(0, +) }
    /// All disconnects, whatever the reason.
    public var disconnectsTotal: Int { disconnects.values.reduce(0, +) }
}
