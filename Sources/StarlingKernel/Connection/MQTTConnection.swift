import Logging
import MQTTCore
import NIOCore

/// One client connection: decodes packets, drives the session's protocol flows and writes
/// the answers. Lives on its channel's event loop; all its state is touched only there.
final class MQTTConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case awaitingConnect
        /// CONNECT carried an Authentication Method: an AUTH exchange runs before CONNACK.
        case authenticating
        /// CONNECT accepted; waiting for the previous session (if any) to be handed over.
        case connecting
        case connected
        case closed
    }

    let broker: Broker
    let loopContext: LoopContext
    let listenerLimit: ConnectionLimit
    /// The broker's logger with this connection's peer and client id, built only when something
    /// is logged (an idle connection keeps no metadata of its own).
    var logger: Logger {
        var logger = broker.logger
        if let peer = channelContext?.remoteAddress { logger[metadataKey: "peer"] = "\(peer)" }
        if !clientId.isEmpty { logger[metadataKey: "client_id"] = "\(clientId)" }
        return logger
    }
    private(set) var channelContext: ChannelHandlerContext!
    var state = State.awaitingConnect
    var decoder: MQTTPacketDecoder
    var cumulation: ByteBuffer?

    // Negotiated at CONNECT.
    var version = ProtocolVersion.v3_1_1
    var clientId = ""
    var username: String?
    /// `clientId`, `username` and the peer as the authorize hooks see them, made at the first will,
    /// PUBLISH or SUBSCRIBE that needs authorization (all three are fixed by then): the peer is
    /// described once per connection. Unmanaged, holding one reference (released in `deinit`), so
    /// that handing it to a request costs no reference counting.
    private var publisherIdentity: Unmanaged<ClientIdentity>?
    var cleanStart = true
    var negotiatedKeepAlive = 0
    var session: Session?
    /// The will to publish if the connection ends without a normal DISCONNECT.
    var will: Message?
    var willDelay: UInt32 = 0
    /// QoS 1/2 messages the client may have unacknowledged: its receive maximum, capped by `session.max_inflight`.
    var sendQuota = 256
    /// The largest packet the client accepts.
    var clientMaximumPacketSize = Int.max
    var clientTopicAliasMaximum = 0
    var outboundAliases: [String: UInt16] = [:]
    var inboundAliases: [UInt16: String] = [:]
    /// Whether a 5.0 client wants reason strings and user properties on errors.
    var requestProblemInformation = true
    /// Packets that arrived while the session was being handed over.
    var packetsWhileConnecting: [MQTTPacket] = []
    var countedAsConnection = false
    /// Set while a hook's answer is pending: the client's packets wait (see `MQTTConnection+Suspension`).
    var suspension: Suspension?
    /// Decoded packets held back behind a pending answer, in arrival order.
    var heldPackets: [MQTTPacket] = []
    /// The MQTT 5 Authentication Method the client connected with (nil: none).
    var authenticationMethod: String?
    /// The enhanced-authentication exchange in progress, if any.
    var authExchange: AuthExchange?
    /// Set once the session is attached; from then on the session hears when the connection ends.
    var attachedToSession = false
    private(set) var takenOver = false
    /// Set once the client has been counted (and announced on `$SYS` and to `client_connected`
    /// hooks) as connected; its disconnect is then counted and announced when the channel closes.
    var announcedConnected = false
    /// Why the connection is ending, as the first close path to know it said (nil: the socket
    /// closed or failed by itself).
    var closeReason: DisconnectReason?
    /// Who ended the connection and the DISCONNECT reason code, for `client_disconnected` hooks
    /// (nil: the socket closed).
    var closeCause: (initiator: DisconnectInitiator, code: ReasonCode)?

    // Keep alive.
    var keepAliveTimeout: TimeAmount?
    var lastActivity = NIODeadline.now()

    /// Set while the connection has writes waiting for the loop's flush.
    var needsFlush = false

    init(broker: Broker, loopContext: LoopContext, listenerLimit: ConnectionLimit) {
        self.broker = broker
        self.listenerLimit = listenerLimit
        self.loopContext = loopContext
        self.decoder = MQTTPacketDecoder(version: nil, maximumPacketSize: loopContext.settings.mqtt.maxPacketSize,
                                         expectsConnectFirst: true)
    }

    deinit {
        publisherIdentity?.release()
    }

    /// This client as the publisher of an authorization request (see `publisherIdentity`).
    var publisher: Unmanaged<ClientIdentity> {
        if let publisherIdentity { return publisherIdentity }
        let identity = Unmanaged.passRetained(ClientIdentity(clientId: clientId, username: username, peer: peerDescription))
        publisherIdentity = identity
        return identity
    }

    var isWritable: Bool { channelContext.channel.isWritable }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        channelContext = context
        // Added after an HTTP upgrade (WebSocket), the channel is already active.
        if context.channel.isActive { start() }
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    private var started = false

    private func start() {
        guard !started else { return }
        started = true
        lastActivity = .now()
        loopContext.register(self)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        if suspension != nil { cancelSuspension() }
        loopContext.unregister(self)
        if countedAsConnection {
            countedAsConnection = false
            broker.connections.release()
            listenerLimit.release()
        }
        if attachedToSession, !takenOver, let session {
            session.connectionClosed(self, will: will, willDelay: willDelay)
            logger.debug("client disconnected", metadata: ["will": "\(will != nil)"])
        }
        will = nil
        if announcedConnected {
            announcedConnected = false
            announceDisconnected(reason: closeReason ?? .socketError)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard state != .closed else { return }
        lastActivity = .now()
        loopContext.stats.add(.bytesReceived, incoming.readableBytes)
        if var buffered = cumulation {
            cumulation = nil
            buffered.writeBuffer(&incoming)
            decodeAll(&buffered)
        } else {
            decodeAll(&incoming)
        }
    }

    /// Decodes and handles packets until the buffer runs dry, the connection closes, or a hook's
    /// pending answer suspends it (the rest then waits in `cumulation`).
    func decodeAll(_ buffer: inout ByteBuffer) {
        while state != .closed && suspension == nil {
            let packet: MQTTPacket?
            do {
                packet = try decoder.next(from: &buffer)
            } catch {
                protocolViolation(error)
                return
            }
            guard let packet else { break }
            loopContext.stats.add(.received(packet.type))
            handle(packet)
        }
        if state != .closed, buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            cumulation = buffer
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, state == .connected { session?.pump() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error: \(error)")
        close()
    }

    // MARK: - Packets

    private func handle(_ packet: MQTTPacket) {
        switch state {
        case .awaitingConnect:
            guard case .connect(let connect) = packet else {
                // The decoder enforces CONNECT first; anything else here is a bug in the peer.
                close()
                return
            }
            handleConnect(connect)
        case .authenticating:
            handleAuthenticating(packet)
        case .connecting:
            packetsWhileConnecting.append(packet)
        case .connected:
            handleConnected(packet)
        case .closed:
            break
        }
    }

    func handleConnected(_ packet: MQTTPacket) {
        guard let session else { return }
        switch packet {
        case .publish(let publish):
            handlePublish(publish, session: session)
        case .puback(let ack):
            _ = session.acknowledged(ack.packetIdentifier)
        case .pubrec(let ack):
            let known = session.received(ack.packetIdentifier, reasonCode: ack.reasonCode)
            if !ack.reasonCode.isError {
                sendAck(.pubrel(PublishAck(packetIdentifier: ack.packetIdentifier,
                                           reasonCode: known ? .success : .packetIdentifierNotFound)))
            }
        case .pubrel(let ack):
            let known = session.releaseIncoming(ack.packetIdentifier)
            sendAck(.pubcomp(PublishAck(packetIdentifier: ack.packetIdentifier,
                                        reasonCode: known ? .success : .packetIdentifierNotFound)))
        case .pubcomp(let ack):
            _ = session.completed(ack.packetIdentifier)
        case .subscribe(let subscribe):
            handleSubscribe(subscribe, session: session)
        case .unsubscribe(let unsubscribe):
            handleUnsubscribe(unsubscribe, session: session)
        case .pingreq:
            sendAck(.pingresp)
        case .disconnect(let disconnect):
            handleDisconnect(disconnect)
        case .auth(let auth):
            handleReauthentication(auth)
        case .connect, .connack, .suback, .unsuback, .pingresp:
            disconnect(.protocolError, reason: "a client may not send \(packet.type)")
        }
    }

    private func handleDisconnect(_ disconnect: Disconnect) {
        if version == .v5, let expiry = disconnect.properties.sessionExpiryInterval, let session {
            if session.expiryInterval == 0 && expiry != 0 {
                self.disconnect(.protocolError, reason: "session expiry set on DISCONNECT after 0 at CONNECT")
                return
            }
            session.expiryInterval = min(expiry, UInt32(clamping: loopContext.settings.session.maxSessionExpiry))
        }
        if disconnect.reasonCode != .disconnectWithWillMessage { will = nil }
        noteCloseCause(.client, disconnect.reasonCode)
        logger.debug("client sent DISCONNECT", metadata: ["reason": "\(disconnect.reasonCode)"])
        if closeReason == nil { closeReason = .normal }
        close()
    }

    // MARK: - Keep alive

    /// How long a connection may stay without sending CONNECT.
    static let connectTimeout = TimeAmount.seconds(15)

    /// Enforces `seconds` of keep alive (× the configured multiplier); 0 turns it off. Checked by
    /// the loop's periodic sweep rather than a timer per connection (see `LoopContext.sweep`).
    func startKeepAlive(seconds: Int) {
        keepAliveTimeout = seconds > 0
            // Saturating: the settings are validated, but a timeout must never trap a connect.
            ? .nanoseconds(Int64(min(Double(seconds) * loopContext.settings.mqtt.keepAliveMultiplier * 1e9, 1e18)))
            : nil
    }

    /// Closes the connection when it has been silent too long: no CONNECT within
    /// `connectTimeout`, or nothing within its keep-alive timeout.
    func checkIdle(now: NIODeadline) {
        // A client waiting for a hook's answer is not read from; the pending timeout bounds the wait.
        guard suspension == nil else { return }
        switch state {
        case .awaitingConnect, .authenticating:
            if now - lastActivity >= Self.connectTimeout {
                logger.debug("closing a connection that sent no CONNECT within 15 s")
                close()
            }
        case .connecting, .connected:
            if let timeout = keepAliveTimeout, now - lastActivity >= timeout {
                logger.debug("keep alive timeout")
                disconnect(.keepAliveTimeout, reason: "keep alive timeout")
            }
        case .closed:
            break
        }
    }

    // MARK: - Writing

    /// Writes one control packet (not PUBLISH) and schedules the flush.
    func sendAck(_ packet: MQTTPacket) {
        guard state != .closed else { return }
        var buffer = channelContext.channel.allocator.buffer(
            capacity: MQTTPacketEncoder.encodedSize(of: packet, version: version))
        MQTTPacketEncoder.encode(packet, version: version, into: &buffer)
        loopContext.stats.sent(packet.type, bytes: buffer.readableBytes)
        channelContext.write(wrapOutboundOut(buffer), promise: nil)
        loopContext.markDirty(self)
    }

    /// Writes a PUBLISH for `pending`. Returns false when the client's maximum packet size
    /// forbids it (the message is then dropped for this client, as 5.0 requires).
    @discardableResult
    func sendPublish(_ pending: PendingMessage, packetId: UInt16?, dup: Bool) -> Bool {
        guard state == .connected || state == .connecting else { return false }
        let message = pending.message
        let stats = loopContext.stats
        if pending.qos == .atMostOnce, !pending.retain, pending.identifiers.isEmpty, clientTopicAliasMaximum == 0,
           let shared = message.sharedQoS0Packet(version: version) {
            guard shared.readableBytes <= clientMaximumPacketSize else {
                loopContext.noteDrop(.tooLarge, message, subscriberId: clientId, qos: pending.qos)
                return false
            }
            stats.sent(.publish, bytes: shared.readableBytes)
            channelContext.write(wrapOutboundOut(shared), promise: nil)
        } else {
            var publish = Publish(topic: message.topic, payload: message.payload, qos: pending.qos,
                                  retain: pending.retain, dup: dup, packetIdentifier: packetId)
            var newAlias: UInt16? = nil
            if version == .v5 {
                publish.properties = message.outgoingProperties(now: .now(), subscriptionIdentifiers: pending.identifiers)
                newAlias = applyOutboundAlias(&publish)
            }
            let size = MQTTPacketEncoder.encodedSize(ofPublish: publish, version: version)
            guard size <= clientMaximumPacketSize else {
                loopContext.noteDrop(.tooLarge, message, subscriberId: clientId, qos: pending.qos)
                return false
            }
            // An alias counts as set only once a PUBLISH carrying it goes out.
            if let newAlias { outboundAliases[message.topic] = newAlias }
            var header = channelContext.channel.allocator.buffer(capacity: size - message.payload.readableBytes)
            MQTTPacketEncoder.encodePublishHeader(publish, version: version, into: &header)
            stats.sent(.publish, bytes: header.readableBytes + message.payload.readableBytes)
            channelContext.write(wrapOutboundOut(header), promise: nil)
            if message.payload.readableBytes > 0 {
                channelContext.write(wrapOutboundOut(message.payload), promise: nil)
            }
        }
        stats.add(.messagesSent)
        loopContext.markDirty(self)
        loopContext.noteDelivered(pending, to: clientId, username: username, packetId: packetId, dup: dup)
        return true
    }

    /// Replaces the topic by an alias the client allowed (5.0 topic alias maximum). Returns a
    /// new alias to record once the packet is really sent.
    private func applyOutboundAlias(_ publish: inout Publish) -> UInt16? {
        guard clientTopicAliasMaximum > 0 else { return nil }
        if let alias = outboundAliases[publish.topic] {
            publish.topic = ""
            publish.properties.topicAlias = alias
            return nil
        }
        guard outboundAliases.count < clientTopicAliasMaximum else { return nil }
        let alias = UInt16(outboundAliases.count + 1)
        publish.properties.topicAlias = alias
        return alias
    }

    func flush() {
        needsFlush = false
        guard state != .closed else { return }
        channelContext.flush()
    }

    // MARK: - Closing

    /// Sends a 5.0 DISCONNECT with `reasonCode` (3.1.1 has none) and closes. The will stays set:
    /// a connection the server closes for a fault publishes its will.
    func disconnect(_ reasonCode: ReasonCode, reason: String) {
        guard state != .closed else { return }
        if closeReason == nil { closeReason = DisconnectReason(serverSent: reasonCode) }
        noteCloseCause(.server, reasonCode)
        if version == .v5 && (state == .connected || state == .connecting) {
            var properties = Properties()
            if requestProblemInformation { properties.reasonString = reason }
            sendAck(.disconnect(Disconnect(reasonCode: reasonCode, properties: properties)))
        }
        logger.debug("closing connection: \(reason)", metadata: ["reason_code": "\(reasonCode)"])
        close()
    }

    /// A packet could not be decoded or broke a protocol rule.
    func protocolViolation(_ error: MQTTProtocolError) {
        logger.info("protocol error: \(error)")
        if state == .awaitingConnect {
            if case .unsupportedProtocolVersion = error.kind {
                // Answer in 3.1.1 form (return code 1): the client's level is unknown to us.
                version = .v3_1_1
                sendConnAck(ConnAck(reasonCode: .unsupportedProtocolVersion))
            } else if let attempted = decoder.version, attempted == .v5 {
                version = .v5
                sendConnAck(ConnAck(reasonCode: error.reasonCode))
            }
            close()
            return
        }
        disconnect(error.reasonCode, reason: error.description)
    }

    func sendConnAck(_ connAck: ConnAck) {
        sendAck(.connack(connAck))
    }

    func close() {
        guard state != .closed else { return }
        flush()
        state = .closed
        channelContext.close(promise: nil)
    }

    /// The client id connected again elsewhere: sends DISCONNECT 0x8E (5.0), closes, and gives
    /// the will (if any) with its delay to the session to decide on.
    func takeOver() -> (message: Message, delay: UInt32)? {
        takenOver = true
        let taken = will.map { ($0, willDelay) }
        will = nil
        disconnect(.sessionTakenOver, reason: "another connection took the session over")
        return taken
    }

    /// The node is stopping: 5.0 clients hear why.
    func shutDown() {
        will = nil
        disconnect(.serverShuttingDown, reason: "server shutting down")
    }
}
