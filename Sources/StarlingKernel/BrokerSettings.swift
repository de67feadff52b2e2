import NIOCore

/// Everything that tunes the kernel, as plain values. `StarlingServer` fills it from the
/// config file, the environment and the command line; the defaults work with none of them.
public struct BrokerSettings: Sendable, Equatable {
    /// The node's name, `name@host`.
    public var nodeName: String = "starling@127.0.0.1"
    /// Event loops (threads) serving connections; 0 means `automaticEventLoops`.
    public var eventLoops: Int = 0

    /// One loop per core but one, at least one: the kernel's network stack needs a core too, and a
    /// delivery between loops costs a thread wake-up (docs/benchmarks.md measures 1 against 2 loops
    /// on 2 cores: one loop won every test).
    public static var automaticEventLoops: Int { max(1, System.coreCount - 1) }
    /// Whether clients without a username may connect. `nil` means automatic, as in Mosquitto 2.0:
    /// allowed while every listener is bound to a loopback address, refused otherwise.
    public var allowAnonymous: Bool? = nil
    /// The most connections the node accepts at once, over all listeners.
    public var maxConnections: Int = 1_000_000
    public var mqtt = MQTTLimits()
    public var session = SessionSettings()
    public var sharedSubscription = SharedSubscriptionSettings()
    public var authentication = AuthenticationSettings()
    public var authorization = AuthorizationSettings()
    public var sys = SysSettings()
    /// How long a hook's pending answer may take before the request is denied, in seconds
    /// (`plugin_loader.pending_timeout`).
    public var pendingTimeout: Int = 5

    public init() {}
}

/// How CONNECT is decided once authentication hooks (plugins) are loaded.
public struct AuthenticationSettings: Sendable, Equatable {
    /// What happens to a client with credentials when every authentication hook passes. Applies
    /// only while at least one authentication hook is registered: without any, `allowAnonymous`
    /// decides for everyone. Clients without credentials always follow `allowAnonymous`.
    public var noMatch: NoMatchPolicy = .deny
    public init() {}
}

/// How PUBLISH and SUBSCRIBE are decided when every authorization hook passes (or none is loaded).
public struct AuthorizationSettings: Sendable, Equatable {
    public var noMatch: NoMatchPolicy = .allow
    public init() {}
}

/// Protocol limits announced in CONNACK and enforced on every packet.
public struct MQTTLimits: Sendable, Equatable {
    /// The largest packet accepted from a client, in bytes (whole packet).
    public var maxPacketSize: Int = 1_048_576
    public var maxClientIdLength: Int = 65_535
    /// The most levels a topic name or filter may have.
    public var maxTopicLevels: Int = 128
    /// The longest topic name or filter, in bytes.
    public var maxTopicLength: Int = 65_535
    public var maxQoS: Int = 2
    public var retainAvailable: Bool = true
    public var wildcardSubscriptionAvailable: Bool = true
    public var sharedSubscriptionAvailable: Bool = true
    public var subscriptionIdentifiersAvailable: Bool = true
    /// The topic alias maximum the broker accepts from a client (0 turns aliases off).
    public var maxTopicAlias: Int = 65_535
    /// When non-zero, overrides the client's keepalive (5.0: sent as server keep alive).
    public var serverKeepAlive: Int = 0
    /// A connection is closed after `keepalive × multiplier` seconds without a packet.
    public var keepAliveMultiplier: Double = 1.5
    /// The part of a TLS client's verified certificate that replaces the user name it sent
    /// (`mqtt.peer_cert_as_username`), before authentication; no effect without TLS.
    public var peerCertAsUsername: PeerCertificateField = .none
    /// The same for the client id (`mqtt.peer_cert_as_clientid`).
    public var peerCertAsClientId: PeerCertificateField = .none

    public init() {}
}

/// Session state limits.
public struct SessionSettings: Sendable, Equatable {
    /// The broker's receive maximum: QoS 1/2 PUBLISHes a client may have unacknowledged towards it.
    public var receiveMaximum: Int = 65_535
    /// QoS 1/2 messages sent to a client and not yet acknowledged, at most (the client's receive
    /// maximum lowers it further). Past it messages wait in the session's bounded queue.
    public var maxInflight: Int = 256
    /// The cap on a client's session expiry interval, in seconds.
    public var maxSessionExpiry: Int = 7 * 24 * 3600
    /// Messages queued per session beyond the inflight window (connected or not); 0 = unlimited.
    public var maxQueuedMessages: Int = 1_000
    /// Bytes of payload queued per session; 0 = unlimited.
    public var maxQueuedBytes: Int = 0
    /// Whether QoS 0 messages are queued for offline persistent sessions.
    public var queueQoS0Offline: Bool = true
    /// The most QoS 2 messages a client may have awaiting PUBREL.
    public var maxAwaitingRel: Int = 65_535

    public init() {}
}

/// How a shared subscription group picks the member that receives a message.
public enum SharedDispatchStrategy: String, Sendable, Equatable, CaseIterable {
    case roundRobin = "round_robin"
    case random = "random"
    case hashClientId = "hash_clientid"
    case hashTopic = "hash_topic"
}

public struct SharedSubscriptionSettings: Sendable, Equatable {
    public var strategy: SharedDispatchStrategy = .roundRobin
    public init() {}
}

/// The broker's own `$SYS/brokers/{node}/…` topics.
public struct SysSettings: Sendable, Equatable {
    /// Seconds between two publications of the node's stats and metrics; 0 turns them off.
    public var interval: Int = 30
    /// Whether client connected and disconnected events are published.
    public var clientEvents: Bool = true

    public init() {}
}
