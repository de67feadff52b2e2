import Logging
import MQTTCore
import NIOCore

/// One client connection: decodes packets, drives the session's protocol flows and writes
/// the answers. Lives on its channel's event loop; all its state is touched only there.
final class MQTTConnection: ChannelInboundHandler, LoopConfined, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let broker: Broker
    let loopContext: LoopContext
    var loop: EventLoop { loopContext.loop }
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
    /// Where the connection stands, with what only that step has; changed by `move(to:)` alone.
    private(set) var phase = ConnectionPhase.idle
    var decoder: MQTTPacketDecoder
    var cumulation: ByteBuffer?

    // Negotiated at CONNECT.
    var version = ProtocolVersion.v3_1_1
    var clientId = ""
    var username: String?
    /// `clientId`, `username`, the peer and its certificate as the authorize hooks see them, made at
    /// the first will, PUBLISH or SUBSCRIBE that needs authorization (all are fixed by then): the peer is
    /// described once per connection. Unmanaged, holding one reference (released in `deinit`), so
    /// that handing it to a request costs no reference counting.
    private var publisherIdentity: Unmanaged<ClientIdentity>?
    var cleanStart = true
    var negotiatedKeepAlive = 0
    /// QoS 1/2 messages the client may have unacknowledged: its receive maximum, capped by `session.max_inflight`.
    var sendQuota = 256
    /// The largest packet the client accepts.
    var clientMaximumPacketSize = Int.max
    var clientTopicAliasMaximum = 0
    var outboundAliases: [String: UInt16] = [:]
    var inboundAliases: [UInt16: String] = [:]
    /// Whether a 5.0 client wants reason strings and user properties on errors.
    var requestProblemInformation = true
    /// The MQTT 5 Authentication Method the client connected with (nil: none).
    var authenticationMethod: String?
    /// TLS below MQTT: given at creation (WebSocket over TLS, set up after the handshake) or by
    /// the listener's `TransportSecurity` event when the handshake completes, before any CONNECT.
    var transportSecurity: TransportSecurity?

    // Keep alive.
    var keepAliveTimeout: TimeAmount?
    var lastActivity = NIODeadline.now()

    /// Set while the connection has writes waiting for the loop's flush.
    var needsFlush = false

    init(broker: Broker, loopContext: LoopContext, listenerLimit: ConnectionLimit,
         transportSecurity: TransportSecurity? = nil) {
        self.broker = broker
        self.transportSecurity = transportSecurity
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
        let identity = Unmanaged.passRetained(ClientIdentity(clientId: clientId, username: username, peer: peerDescription,
                                                             transportSecurity: transportSecurity))
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

    private func start() {
        guard case .idle = phase else { return }
        move(to: .awaitingConnect)
        lastActivity = .now()
        loopContext.register(self)
    }

    /// A TLS listener's handshake completed: what it knows of the peer, kept for CONNECT.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let security = event as? TransportSecurity {
            transportSecurity = security
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The channel has gone: settles what the connection owes (see `ConnectionEnding`).
    func channelInactive(context: ChannelHandlerContext) {
        let ending: ConnectionEnding
        switch phase {
        case .closed: return context.fireChannelInactive()
        case .closing(let closing): ending = closing
        default: ending = ConnectionEnding(phase, reason: nil, cause: nil, takenOver: false)
        }
        move(to: .closed)
        if let pending = ending.pending { cancel(pending) }
        loopContext.unregister(self)
        ending.slot?.release(node: broker.connections, listener: listenerLimit)
        if let session = ending.session {
            session.connectionClosed(self, will: ending.will?.message, willDelay: ending.will?.delay ?? 0)
            logger.debug("client disconnected", metadata: ["will": "\(ending.will != nil)"])
        }
        if ending.announced {
            announceDisconnected(reason: ending.reason ?? .socketError, cause: ending.cause)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {

        assertOnLoop()
        var incoming = unwrapInboundIn(data)
        guard isOpen else { return }
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
        while handlesPackets {
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
        if isOpen, buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            cumulation = buffer
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .connected(let client) = phase { client.session.pump() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error: \(error)")
        close()
    }

    // MARK: - Packets

    private func handle(_ packet: MQTTPacket) {
        switch phase {
        case .idle, .awaitingConnect:
            guard case .connect(let connect) = packet else {
                // The decoder enforces CONNECT first; anything else here is a bug in the peer.
                close()
                return
            }
            handleConnect(connect)
        case .authenticating(let attempt):
            handleAuthenticating(packet, attempt)
        case .claimingSession(let claim):
            claim.arrived.append(packet)
        case .connected(let client):
            handleConnected(packet, client)
        case .closing, .closed:
            break
        }
    }

    func handleConnected(_ packet: MQTTPacket, _ client: ConnectedClient) {
        let session = client.session
        switch packet {
        case .publish(let publish):
            handlePublish(publish, session: session)
        case .puback(let ack):
            _ = session.acknowledged(ack.packetIdentifier)
        case .pubrec(let ack):
            let known = session.received(ack.packetIdentifier, reasonCode: ack.reasonCode)
            if !ack.reasonCode.isError {
                // `sync`: once the PUBREC is stored, so that the PUBLISH is never sent again.
                sendDurableAck(.pubrel(PublishAck(packetIdentifier: ack.packetIdentifier,
                                                  reasonCode: known ? .success : .packetIdentifierNotFound)))
            }
        case .pubrel(let ack):
            let known = session.releaseIncoming(ack.packetIdentifier)
            // `sync`: once the release is stored, so that a new message with this id is not taken for a resend.
            sendDurableAck(.pubcomp(PublishAck(packetIdentifier: ack.packetIdentifier,
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
            handleDisconnect(disconnect, client)
        case .auth(let auth):
            handleReauthentication(auth)
        case .connect, .connack, .suback, .unsuback, .pingresp:
            disconnect(.protocolError, reason: "a client may not send \(packet.type)")
        }
    }

    private func handleDisconnect(_ disconnect: Disconnect, _ client: ConnectedClient) {
        let session = client.session
        if version == .v5, let expiry = disconnect.properties.sessionExpiryInterval {
            if session.expiryInterval == 0 && expiry != 0 {
                self.disconnect(.protocolError, reason: "session expiry set on DISCONNECT after 0 at CONNECT")
                return
            }
            session.expiryInterval = min(expiry, UInt32(clamping: loopContext.settings.session.maxSessionExpiry))
        }
        if disconnect.reasonCode != .disconnectWithWillMessage { client.will = nil }
        logger.debug("client sent DISCONNECT", metadata: ["reason": "\(disconnect.reasonCode)"])
        close(reason: .normal, cause: (.client, disconnect.reasonCode))
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
        assertOnLoop()
        // A client waiting for a hook's answer is not read from; the pending timeout bounds the wait.
        guard suspension == nil else { return }
        switch phase {
        case .idle, .awaitingConnect, .authenticating:
            if now - lastActivity >= Self.connectTimeout {
                logger.debug("closing a connection that sent no CONNECT within 15 s")
                close()
            }
        case .claimingSession, .connected:
            if let timeout = keepAliveTimeout, now - lastActivity >= timeout {
                logger.debug("keep alive timeout")
                disconnect(.keepAliveTimeout, reason: "keep alive timeout")
            }
        case .closing, .closed:
            break
        }
    }

    // MARK: - Writing

    /// Writes one control packet (not PUBLISH) and schedules the flush.
    func sendAck(_ packet: MQTTPacket) {
        guard isOpen else { return }
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
        assertOnLoop()
        guard canSend else { return false }
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

        assertOnLoop()
        needsFlush = false
        guard isOpen else { return }
        channelContext.flush()
    }

    // MARK: - Phase

    /// The one way the phase changes: a move `ConnectionPhase.canMove` does not allow traps in
    /// debug builds (and is made anyway in release builds).
    func move(to next: ConnectionPhase) {
        if !ConnectionPhase.canMove(from: phase.kind, to: next.kind) {
            assertionFailure("illegal connection phase change: \(phase.kind) -> \(next.kind)")
        }
        phase = next
    }
}
