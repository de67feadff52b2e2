import MQTTClient
import MQTTCore
import NIOCore
import NIOPosix
import XCTest
import StarlingTestSupport

/// An `MQTTClient` with recorders on its message and packet streams.
final class TestClient: Sendable {
    let mqtt: MQTTClient
    /// Application messages, as the client delivers them (topic aliases resolved).
    let messages: Recorder<Publish>
    /// Every packet received, as decoded.
    let packets: Recorder<MQTTPacket>

    init(_ mqtt: MQTTClient) {
        self.mqtt = mqtt
        messages = Recorder(mqtt.messages)
        packets = Recorder(mqtt.packets)
    }

    var connAck: ConnAck { mqtt.connAck }

    /// Subscribes to each filter with `qos` and checks that every one is granted that QoS.
    func subscribe(_ filters: String..., qos: QoS = .atLeastOnce, file: StaticString = #filePath,
                   line: UInt = #line) async throws {
        let subAck = try await mqtt.subscribe(filters.map { TopicSubscription(filter: $0, qos: qos) })
        XCTAssertEqual(subAck.reasonCodes, filters.map { _ in ReasonCode.granted(qos) }, "SUBACK for \(filters)",
                       file: file, line: line)
    }

    /// Publishes QoS 1 messages `prefix0`, `prefix1` … to `topic` and checks each PUBACK against `expected`.
    func publishNumbered(_ count: Int, to topic: String, prefix: String = "m", expected: ReasonCode = .success,
                         file: StaticString = #filePath, line: UInt = #line) async throws {
        for index in 0..<count {
            let ack = try await mqtt.publish(topic, payload: "\(prefix)\(index)", qos: .atLeastOnce)
            XCTAssertEqual(ack?.reasonCode, expected, "PUBACK of \(prefix)\(index)", file: file, line: line)
        }
    }

    /// Acknowledges a QoS 1 message by hand (for clients with `autoAck` off).
    func acknowledge(_ message: Publish) async throws {
        try await mqtt.send(.puback(PublishAck(packetIdentifier: message.packetIdentifier!)))
    }
}

/// A bare MQTT connection on our codec, for flows `MQTTClient` completes on its own: it answers nothing, so a
/// QoS 2 publication can be left open between PUBREC and PUBREL.
final class RawPeer: Sendable {
    let channel: any Channel
    let version: ProtocolVersion
    let packets: Recorder<MQTTPacket>
    let connAck: ConnAck

    private init(channel: any Channel, version: ProtocolVersion, packets: Recorder<MQTTPacket>, connAck: ConnAck) {
        self.channel = channel
        self.version = version
        self.packets = packets
        self.connAck = connAck
    }

    /// Connects to `port`, sends `connect` and waits for a successful CONNACK.
    static func connect(port: Int, _ connect: Connect) async throws -> RawPeer {
        let (stream, continuation) = AsyncStream.makeStream(of: MQTTPacket.self)
        let version = connect.protocolVersion
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = MQTTPacketDecoder(version: version, expectsConnectFirst: false)
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(MQTTByteToMessageDecoder(decoder)), PacketSink(continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let packets = Recorder(stream)
        do {
            try await write(.connect(connect), version: version, on: channel)
            let connAck = try await packets.first { $0.connAck }
            guard !connAck.reasonCode.isError else { throw TestSupportError("CONNECT refused: \(connAck)") }
            return RawPeer(channel: channel, version: version, packets: packets, connAck: connAck)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    func send(_ packet: MQTTPacket) async throws {
        try await Self.write(packet, version: version, on: channel)
    }

    /// Closes the TCP connection without DISCONNECT.
    func close() async {
        try? await withTimeout(.seconds(5), "close of a raw connection") { [channel] in
            try await channel.close()
        }
    }

    private static func write(_ packet: MQTTPacket, version: ProtocolVersion, on channel: any Channel) async throws {
        let bytes = encode([packet], version: version)
        try await withTimeout(.seconds(5), "write of \(packet.type)") { try await channel.writeAndFlush(bytes) }
    }
}

/// Hands decoded packets to a stream; ends it when the connection closes.
private final class PacketSink: ChannelInboundHandler {
    typealias InboundIn = MQTTPacket
    private let continuation: AsyncStream<MQTTPacket>.Continuation

    init(_ continuation: AsyncStream<MQTTPacket>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}

/// Picks one kind of packet out of a recorded stream: `packets.first { $0.pubRec }`.
extension MQTTPacket {
    var connAck: ConnAck? { if case .connack(let value) = self { value } else { nil } }
    var publish: Publish? { if case .publish(let value) = self { value } else { nil } }
    var pubAck: PublishAck? { if case .puback(let value) = self { value } else { nil } }
    var pubRec: PublishAck? { if case .pubrec(let value) = self { value } else { nil } }
    var pubRel: PublishAck? { if case .pubrel(let value) = self { value } else { nil } }
    var pubComp: PublishAck? { if case .pubcomp(let value) = self { value } else { nil } }
    var disconnect: Disconnect? { if case .disconnect(let value) = self { value } else { nil } }
    var isPingResp: Bool { if case .pingresp = self { true } else { false } }
}
