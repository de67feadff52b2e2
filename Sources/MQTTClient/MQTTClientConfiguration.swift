import MQTTCore
import NIOCore

/// Everything `MQTTClient.connect` needs: where to connect and what to put into CONNECT.
public struct MQTTClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var version: ProtocolVersion
    public var clientId: String
    /// Clean start (5.0) or clean session (3.1.1).
    public var cleanStart: Bool
    /// Keep alive in seconds, sent in CONNECT; 0 turns keep alive off.
    public var keepAlive: UInt16
    public var username: String?
    public var password: [UInt8]?
    public var will: Will?
    /// 5.0 CONNECT properties (session expiry, receive maximum, topic alias maximum …); ignored before 5.0.
    public var connectProperties: Properties
    /// Bound on the TCP connect and, separately, on waiting for CONNACK.
    public var connectTimeout: TimeAmount
    /// Bound on every other wait: acknowledgements, writes, DISCONNECT.
    public var responseTimeout: TimeAmount
    /// Acknowledge incoming QoS 1/2 PUBLISHes (PUBACK, PUBREC, PUBCOMP). Off, the caller sends them with `send`.
    public var autoAck: Bool
    /// Send PINGREQ every keep alive interval (the server's Server Keep Alive when it sets one). Off, the client
    /// stays silent, to test the server's keep alive timeout.
    public var sendsPings: Bool
    /// Deliver every received packet on `MQTTClient.packets`. That stream buffers until read, so long-lived
    /// clients that only read `messages` turn this off.
    public var recordsPackets: Bool
    /// MQTT 5 enhanced authentication: answers each AUTH 0x18 (continue) the server sends, during
    /// CONNECT or a re-authentication, with the AUTH to send back (nil: close the connection). Put
    /// the Authentication Method (and first data) in `connectProperties`.
    public var authenticate: (@Sendable (Auth) -> Auth?)? = nil
    /// Adds the handlers of a transport below MQTT (TLS, say, from the caller's TLS library) to a
    /// new connection's pipeline, ahead of the MQTT codec; nil: plain TCP. Runs on the channel's
    /// event loop.
    public var transportHandlers: (@Sendable (any Channel) throws -> Void)? = nil

    public init(host: String = "127.0.0.1", port: Int = 1883, version: ProtocolVersion = .v5, clientId: String,
                cleanStart: Bool = true, keepAlive: UInt16 = 60, username: String? = nil, password: [UInt8]? = nil,
                will: Will? = nil, connectProperties: Properties = [], connectTimeout: TimeAmount = .seconds(5),
                responseTimeout: TimeAmount = .seconds(10), autoAck: Bool = true, sendsPings: Bool = true,
                recordsPackets: Bool = true) {
        self.host = host
        self.port = port
        self.version = version
        self.clientId = clientId
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.will = will
        self.connectProperties = connectProperties
        self.connectTimeout = connectTimeout
        self.responseTimeout = responseTimeout
        self.autoAck = autoAck
        self.sendsPings = sendsPings
        self.recordsPackets = recordsPackets
    }

    /// The CONNECT packet this configuration describes.
    public var connectPacket: Connect {
        Connect(protocolVersion: version, cleanStart: cleanStart, keepAlive: keepAlive, clientIdentifier: clientId,
                will: will, username: username, password: password.map { ByteBuffer(bytes: $0) },
                properties: version.hasProperties ? connectProperties : [])
    }
}
