import MQTTCore
import NIOCore

/// The client's connection state, on its channel's event loop: requests waiting for acknowledgements, incoming
/// QoS 2 messages between PUBREC and PUBREL, topic aliases, keep alive. `MQTTClient` reaches it through a
/// `NIOLoopBound`, so none of it needs a lock.
final class MQTTClientHandler: ChannelInboundHandler {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    /// A packet sent with a packet identifier, waiting for the packet that ends its flow.
    private struct Request {
        let promise: EventLoopPromise<MQTTPacket>
        let timeout: Scheduled<Void>
    }

    private let configuration: MQTTClientConfiguration
    private let eventLoop: any EventLoop
    private let messages: AsyncStream<Publish>.Continuation
    private let packets: AsyncStream<MQTTPacket>.Continuation?
    private let connAckPromise: EventLoopPromise<ConnAck>
    private let closedPromise: EventLoopPromise<Disconnect?>

    private var context: ChannelHandlerContext?
    private var isClosed = false
    private var requests: [UInt16: Request] = [:]
    private var lastPacketIdentifier: UInt16 = 0
    /// Incoming QoS 2 packet identifiers delivered and not yet released, so a resent PUBLISH is not delivered twice.
    private var unreleased: Set<UInt16> = []
    private var topicAliases: [UInt16: String] = [:]
    private var serverDisconnect: Disconnect?
    private var protocolError: MQTTProtocolError?
    private var ping: Scheduled<Void>?
    /// A re-authentication waiting for the server's AUTH 0x00.
    private var reauthentication: EventLoopPromise<Auth>?

    init(configuration: MQTTClientConfiguration, messages: AsyncStream<Publish>.Continuation,
         packets: AsyncStream<MQTTPacket>.Continuation?, eventLoop: any EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.messages = messages
        self.packets = packets
        self.connAckPromise = eventLoop.makePromise()
        self.closedPromise = eventLoop.makePromise()
    }

    /// Completes when the connection has closed, with the server's DISCONNECT if one came.
    var closed: EventLoopFuture<Disconnect?> { closedPromise.futureResult }

    private var version: ProtocolVersion { configuration.version }

    private var closedError: MQTTClientError {
        MQTTClientError.closed(disconnect: serverDisconnect, protocolError: protocolError)
    }

    // MARK: Requests from MQTTClient (on the event loop)

    /// Sends CONNECT; the future gives the CONNACK, whatever its reason code.
    func connect(_ connect: Connect) -> EventLoopFuture<ConnAck> {
        send(.connect(connect)).whenFailure { [connAckPromise] in connAckPromise.fail($0) }
        return connAckPromise.futureResult
    }

    /// Encodes and writes `packet`; the future completes once it is written.
    func send(_ packet: MQTTPacket) -> EventLoopFuture<Void> {
        guard let context, !isClosed else { return eventLoop.makeFailedFuture(closedError) }
        var buffer = context.channel.allocator.buffer(
            capacity: MQTTPacketEncoder.encodedSize(of: packet, version: version))
        MQTTPacketEncoder.encode(packet, version: version, into: &buffer)
        return sendRaw(buffer)
    }

    func sendRaw(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        guard let context, !isClosed else { return eventLoop.makeFailedFuture(closedError) }
        return context.writeAndFlush(wrapOutboundOut(buffer)).flatMapErrorThrowing { error in
            throw MQTTClientError(.connectionClosed, "write failed: \(error)")
        }
    }

    /// Sends the packet `make` builds around a free packet identifier; the future gives the packet that ends the
    /// flow (PUBACK, PUBCOMP or a failing PUBREC, SUBACK, UNSUBACK), or fails after the response timeout.
    func request(_ make: (UInt16) -> MQTTPacket) -> EventLoopFuture<MQTTPacket> {
        guard !isClosed else { return eventLoop.makeFailedFuture(closedError) }
        guard let identifier = freePacketIdentifier() else {
            return eventLoop.makeFailedFuture(MQTTClientError(.noFreePacketIdentifier,
                                                              "all packet identifiers are awaiting acknowledgements"))
        }
        let packet = make(identifier)
        let promise = eventLoop.makePromise(of: MQTTPacket.self)
        let timeout = configuration.responseTimeout
        let scheduled = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] () -> Void in
            requests.removeValue(forKey: identifier)?.promise.fail(
                MQTTClientError.timeout("answer to \(packet.type) \(identifier)", after: timeout))
        }
        requests[identifier] = Request(promise: promise, timeout: scheduled)
        send(packet).assumeIsolated().whenFailure { [self] error in finish(identifier, with: .failure(error)) }
        return promise.futureResult
    }

    private func freePacketIdentifier() -> UInt16? {
        for _ in 0..<Int(UInt16.max) {
            lastPacketIdentifier = lastPacketIdentifier == .max ? 1 : lastPacketIdentifier + 1
            if requests[lastPacketIdentifier] == nil { return lastPacketIdentifier }
        }
        return nil
    }

    private func finish(_ identifier: UInt16, with result: Result<MQTTPacket, Error>) {
        guard let request = requests.removeValue(forKey: identifier) else { return }
        request.timeout.cancel()
        request.promise.completeWith(result)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        packets?.yield(packet)
        switch packet {
        case .connack(let connAck):
            connAckPromise.succeed(connAck)
            if !connAck.reasonCode.isError { scheduleKeepAlive(serverKeepAlive: connAck.properties.serverKeepAlive) }
        case .publish(let publish):
            receive(publish)
        case .puback(let ack), .pubcomp(let ack):
            finish(ack.packetIdentifier, with: .success(packet))
        case .pubrec(let ack):
            if requests[ack.packetIdentifier] == nil {
                _ = send(.pubrel(PublishAck(packetIdentifier: ack.packetIdentifier,
                                            reasonCode: .packetIdentifierNotFound)))
            } else if ack.reasonCode.isError {
                finish(ack.packetIdentifier, with: .success(packet))  // the QoS 2 flow ends here
            } else {
                _ = send(.pubrel(PublishAck(packetIdentifier: ack.packetIdentifier)))
            }
        case .pubrel(let ack):
            let known = unreleased.remove(ack.packetIdentifier) != nil
            if configuration.autoAck {
                _ = send(.pubcomp(PublishAck(packetIdentifier: ack.packetIdentifier,
                                             reasonCode: known ? .success : .packetIdentifierNotFound)))
            }
        case .suback(let subAck):
            finish(subAck.packetIdentifier, with: .success(packet))
        case .unsuback(let unsubAck):
            finish(unsubAck.packetIdentifier, with: .success(packet))
        case .disconnect(let disconnect):
            serverDisconnect = disconnect
        case .auth(let auth):
            authenticate(auth)
        case .connect, .subscribe, .unsubscribe, .pingreq, .pingresp:
            break
        }
    }

    /// Sends AUTH 0x19 with `data` and the configured method; the future gives the server's final
    /// AUTH 0x00, or fails when the connection closes (a refused re-authentication disconnects).
    func reauthenticate(data: ByteBuffer?) -> EventLoopFuture<Auth> {
        guard reauthentication == nil else {
            return eventLoop.makeFailedFuture(MQTTClientError(.protocolViolation, "a re-authentication is running"))
        }
        var properties = Properties()
        properties.authenticationMethod = configuration.connectProperties.authenticationMethod
        if let data { properties.authenticationData = data }
        let promise = eventLoop.makePromise(of: Auth.self)
        reauthentication = promise
        send(.auth(Auth(reasonCode: .reAuthenticate, properties: properties))).whenFailure { promise.fail($0) }
        return promise.futureResult
    }

    /// AUTH from the server: 0x18 is answered through `configuration.authenticate`, 0x00 ends a
    /// re-authentication.
    private func authenticate(_ auth: Auth) {
        switch auth.reasonCode {
        case .continueAuthentication:
            guard let answer = configuration.authenticate?(auth) else {
                context?.close(promise: nil)
                return
            }
            _ = send(.auth(answer))
        case .success:
            reauthentication?.succeed(auth)
            reauthentication = nil
        default:
            break
        }
    }

    /// Delivers an incoming PUBLISH (a QoS 2 one once per packet identifier until PUBREL) and acknowledges it.
    private func receive(_ incoming: Publish) {
        var publish = incoming
        if let alias = publish.properties.topicAlias {
            if publish.topic.isEmpty {
                publish.topic = topicAliases[alias] ?? ""
            } else {
                topicAliases[alias] = publish.topic
            }
        }
        switch publish.qos {
        case .atMostOnce:
            messages.yield(publish)
        case .atLeastOnce:
            messages.yield(publish)
            if configuration.autoAck { _ = send(.puback(PublishAck(packetIdentifier: publish.packetIdentifier!))) }
        case .exactlyOnce:
            let identifier = publish.packetIdentifier!
            if unreleased.insert(identifier).inserted { messages.yield(publish) }
            if configuration.autoAck { _ = send(.pubrec(PublishAck(packetIdentifier: identifier))) }
        }
    }

    /// PINGREQ every keep alive interval: the server's Server Keep Alive when it sets one, else ours.
    private func scheduleKeepAlive(serverKeepAlive: UInt16?) {
        let seconds = serverKeepAlive ?? configuration.keepAlive
        guard configuration.sendsPings, seconds > 0, !isClosed else { return }
        let interval = TimeAmount.seconds(Int64(seconds))
        ping = eventLoop.assumeIsolated().scheduleTask(in: interval) { [self] in
            _ = send(.pingreq)
            scheduleKeepAlive(serverKeepAlive: serverKeepAlive)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? MQTTProtocolError { protocolError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        ping?.cancel()
        let error = closedError
        connAckPromise.fail(error)
        reauthentication?.fail(error)
        reauthentication = nil
        for identifier in Array(requests.keys) { finish(identifier, with: .failure(error)) }
        messages.finish()
        packets?.finish()
        closedPromise.succeed(serverDisconnect)
        context.fireChannelInactive()
    }
}
