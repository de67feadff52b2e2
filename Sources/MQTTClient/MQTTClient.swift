import MQTTCore
import NIOCore
import NIOPosix

/// A small MQTT 3.1, 3.1.1 and 5.0 client over SwiftNIO, on the same codec as the broker.
///
/// Every wait is bounded: the TCP connect and CONNACK by `connectTimeout`, everything else by
/// `responseTimeout` (or the timeout passed in); running out throws `MQTTClientError` with code `.timeout`.
/// When the connection closes, waiting calls fail with `.connectionClosed` (or `.protocolViolation`), and both
/// streams finish. Close the client with `disconnect` or `closeAbruptly`; dropping it does not close the connection.
public final class MQTTClient: Sendable {
    public let configuration: MQTTClientConfiguration
    /// The server's CONNACK (always a success: a refusal throws from `connect`).
    public let connAck: ConnAck
    /// Incoming PUBLISHes (read by one task), acknowledged automatically per QoS unless `autoAck` is off. A QoS 2 message is
    /// delivered on receipt, once: a resent PUBLISH with the same packet identifier before PUBREL is dropped.
    /// Topic aliases the server sets are resolved (the topic is filled in; the alias property stays).
    public let messages: AsyncStream<Publish>
    /// Every packet received, as decoded (CONNACK first; PUBLISHes also go to `messages`, unresolved here), for
    /// tests that assert exact packets such as a server's DISCONNECT. Empty when `recordsPackets` is off.
    public let packets: AsyncStream<MQTTPacket>

    private let channel: any Channel
    private let handler: NIOLoopBound<MQTTClientHandler>
    private let closed: EventLoopFuture<Disconnect?>

    private init(configuration: MQTTClientConfiguration, connAck: ConnAck, messages: AsyncStream<Publish>,
                 packets: AsyncStream<MQTTPacket>, channel: any Channel, handler: NIOLoopBound<MQTTClientHandler>,
                 closed: EventLoopFuture<Disconnect?>) {
        self.configuration = configuration
        self.connAck = connAck
        self.messages = messages
        self.packets = packets
        self.channel = channel
        self.handler = handler
        self.closed = closed
    }

    /// Connects, sends CONNECT and waits for CONNACK. Throws `.connectFailed` when TCP does not connect,
    /// `.connectionRefused` (with `connAck`) when the server refuses, `.timeout` when CONNACK does not come.
    public static func connect(_ configuration: MQTTClientConfiguration,
                               eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        async throws -> MQTTClient
    {
        let (messages, messagesContinuation) = AsyncStream.makeStream(of: Publish.self)
        let (packets, packetsContinuation) = AsyncStream.makeStream(of: MQTTPacket.self)
        if !configuration.recordsPackets { packetsContinuation.finish() }
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configuration.transportHandlers?(channel)
                    let decoder = MQTTPacketDecoder(version: configuration.version, expectsConnectFirst: false)
                    let handler = MQTTClientHandler(
                        configuration: configuration, messages: messagesContinuation,
                        packets: configuration.recordsPackets ? packetsContinuation : nil,
                        eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(MQTTByteToMessageDecoder(decoder)), handler)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw MQTTClientError(.connectFailed,
                                  "could not connect to \(configuration.host):\(configuration.port): \(error)")
        }
        do {
            let (handler, closed) = try await channel.eventLoop.submit {
                let handler = try channel.pipeline.syncOperations.handler(type: MQTTClientHandler.self)
                return (NIOLoopBound(handler, eventLoop: channel.eventLoop), handler.closed)
            }.get()
            let connAckFuture = channel.eventLoop.flatSubmit { handler.value.connect(configuration.connectPacket) }
            let connAck = try await wait(for: connAckFuture, timeout: configuration.connectTimeout, "CONNACK")
            guard !connAck.reasonCode.isError else {
                throw MQTTClientError(.connectionRefused, "server refused the connection: \(connAck.reasonCode)",
                                      connAck: connAck)
            }
            return MQTTClient(configuration: configuration, connAck: connAck, messages: messages, packets: packets,
                              channel: channel, handler: handler, closed: closed)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// MQTT 5 re-authentication: sends AUTH 0x19 with the configured Authentication Method and
    /// `data`, answers the server's AUTH 0x18 through `configuration.authenticate`, and returns the
    /// server's final AUTH 0x00. Throws when the server refuses (it disconnects) or does not answer
    /// within the response timeout.
    public func reauthenticate(data: ByteBuffer?) async throws -> Auth {
        let future = channel.eventLoop.flatSubmit { self.handler.value.reauthenticate(data: data) }
        return try await Self.wait(for: future, timeout: configuration.responseTimeout, "AUTH 0x00")
    }

    // MARK: Publishing

    /// Publishes a message. QoS 0 returns once written, with nil; QoS 1 after PUBACK, returning it; QoS 2 after
    /// PUBCOMP, returning it — or the PUBREC when that carries an error code (the flow ends there).
    /// Check the returned reason code: a failing acknowledgement does not throw.
    ///
    /// `topic` may be empty in 5.0 when `properties` holds a Topic Alias that an earlier PUBLISH set up; the
    /// client sends aliases exactly as given.
    @discardableResult
    public func publish(_ topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false,
                        properties: Properties = []) async throws -> PublishAck? {
        guard MQTTTopic.isValidName(topic) || (topic.isEmpty && properties.topicAlias != nil) else {
            throw MQTTClientError(.invalidArgument, "\"\(topic)\" is not a valid topic name")
        }
        let publish = Publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        if qos == .atMostOnce {
            try await send(.publish(publish))
            return nil
        }
        return try await request({ identifier in
            var numbered = publish
            numbered.packetIdentifier = identifier
            return .publish(numbered)
        }, answer: { response in
            switch (qos, response) {
            case (.atLeastOnce, .puback(let ack)), (.exactlyOnce, .pubcomp(let ack)), (.exactlyOnce, .pubrec(let ack)):
                ack
            default:
                nil
            }
        })
    }

    @discardableResult
    public func publish(_ topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false,
                        properties: Properties = []) async throws -> PublishAck? {
        try await publish(topic, payload: ByteBuffer(bytes: payload), qos: qos, retain: retain, properties: properties)
    }

    @discardableResult
    public func publish(_ topic: String, payload: String, qos: QoS = .atMostOnce, retain: Bool = false,
                        properties: Properties = []) async throws -> PublishAck? {
        try await publish(topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain,
                          properties: properties)
    }

    // MARK: Subscriptions

    /// Subscribes and returns the SUBACK (one reason code per subscription; failures do not throw).
    public func subscribe(_ subscriptions: [TopicSubscription], properties: Properties = []) async throws -> SubAck {
        guard !subscriptions.isEmpty else { throw MQTTClientError(.invalidArgument, "SUBSCRIBE needs a filter") }
        return try await request({
            .subscribe(Subscribe(packetIdentifier: $0, subscriptions: subscriptions, properties: properties))
        }, answer: { if case .suback(let subAck) = $0 { subAck } else { nil } })
    }

    /// Unsubscribes and returns the UNSUBACK (3.1.1: without reason codes).
    public func unsubscribe(_ filters: [String], properties: Properties = []) async throws -> UnsubAck {
        guard !filters.isEmpty else { throw MQTTClientError(.invalidArgument, "UNSUBSCRIBE needs a filter") }
        return try await request({
            .unsubscribe(Unsubscribe(packetIdentifier: $0, filters: filters, properties: properties))
        }, answer: { if case .unsuback(let unsubAck) = $0 { unsubAck } else { nil } })
    }

    // MARK: Raw access and closing

    /// Encodes and writes any packet, unchecked and untracked (acknowledgements it provokes arrive on `packets`).
    public func send(_ packet: MQTTPacket) async throws {
        let written = channel.eventLoop.flatSubmit { [handler] in handler.value.send(packet) }
        try await Self.wait(for: written, timeout: configuration.responseTimeout, "write of \(packet.type)")
    }

    /// Writes raw bytes (malformed-packet tests).
    public func sendRaw(_ bytes: [UInt8]) async throws {
        let written = channel.eventLoop.flatSubmit { [handler] in handler.value.sendRaw(ByteBuffer(bytes: bytes)) }
        try await Self.wait(for: written, timeout: configuration.responseTimeout, "write of raw bytes")
    }

    /// Sends DISCONNECT and closes the connection; throws `.connectionClosed` when it is already closed.
    public func disconnect(_ reasonCode: ReasonCode = .success, properties: Properties = []) async throws {
        try await send(.disconnect(Disconnect(reasonCode: reasonCode, properties: properties)))
        await closeAbruptly()
    }

    /// Drops the TCP connection without DISCONNECT (to trigger wills).
    public func closeAbruptly() async {
        channel.close(promise: nil)
        _ = try? await Self.wait(for: closed, timeout: configuration.responseTimeout, "close")
    }

    /// Completes when the connection closes; gives the server's DISCONNECT if one came.
    @discardableResult
    public func waitForClose(timeout: TimeAmount) async throws -> Disconnect? {
        try await Self.wait(for: closed, timeout: timeout, "close of the connection")
    }

    // MARK: Waiting

    /// Sends what `make` builds around a packet identifier and waits for the packet that ends its flow (the
    /// handler bounds the wait by `responseTimeout`); `answer` picks the acknowledgement out of it.
    private func request<Ack>(_ make: @escaping @Sendable (UInt16) -> MQTTPacket,
                              answer: (MQTTPacket) -> Ack?) async throws -> Ack {
        let response = try await channel.eventLoop.flatSubmit { [handler] in handler.value.request(make) }.get()
        guard let ack = answer(response) else {
            throw MQTTClientError(.unexpectedResponse, "\(make(0).type) answered with \(response.type)")
        }
        return ack
    }

    /// `future`'s value, or a `.timeout` error naming `what` once `timeout` has passed.
    private static func wait<Value: Sendable>(for future: EventLoopFuture<Value>, timeout: TimeAmount,
                                              _ what: String) async throws -> Value {
        let promise = future.eventLoop.makePromise(of: Value.self)
        let timer = future.eventLoop.scheduleTask(in: timeout) {
            promise.fail(MQTTClientError.timeout(what, after: timeout))
        }
        future.whenComplete { result in
            timer.cancel()
            promise.completeWith(result)  // ignored when the timer came first
        }
        return try await promise.futureResult.get()
    }
}
