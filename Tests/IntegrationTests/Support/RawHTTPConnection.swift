import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A bare TCP connection for HTTP tests that `AdminClient` cannot make: pipelined requests,
/// oversized bodies. Sends bytes as given and collects everything received as text.
final class RawHTTPConnection: Sendable {
    private let channel: any Channel
    private let received: NIOLockedValueBox<String>
    private let closed: NIOLockedValueBox<Bool>

    private init(channel: any Channel, received: NIOLockedValueBox<String>, closed: NIOLockedValueBox<Bool>) {
        self.channel = channel
        self.received = received
        self.closed = closed
    }

    static func connect(port: Int) async throws -> RawHTTPConnection {
        let received = NIOLockedValueBox(""), closed = NIOLockedValueBox(false)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Sink(received: received, closed: closed))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawHTTPConnection(channel: channel, received: received, closed: closed)
    }

    /// Everything received so far.
    var text: String { received.withLockedValue { $0 } }
    /// Whether the server has closed the connection.
    var isClosed: Bool { closed.withLockedValue { $0 } }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func close() async {
        try? await channel.close()
    }

    private final class Sink: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<String>
        let closed: NIOLockedValueBox<Bool>

        init(received: NIOLockedValueBox<String>, closed: NIOLockedValueBox<Bool>) {
            self.received = received
            self.closed = closed
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            received.withLockedValue { $0 += text }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.withLockedValue { $0 = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
