import Logging
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import StarlingKernel
@testable import StarlingCluster
import StarlingTestSupport

/// A kernel that records what the cluster asks of it (single-threaded tests on an `EmbeddedEventLoop`).
final class FakeKernel: ClusterKernel, @unchecked Sendable {
    let loop: EmbeddedEventLoop
    /// Delivered forwarded messages: topic, payload, and the shared group if any.
    var delivered: [(topic: String, payload: String, group: SharedGroupKey?)] = []
    var flushes = 0
    var surrendered: [(clientId: String, resume: Bool)] = []
    /// What `surrenderSession` answers.
    var sessionState: ByteBuffer?
    var clientIds: [String] = []
    var retained: [(topic: String, message: Message?, stamp: RetainedStamp)] = []

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    var eventLoops: [EventLoop] { [loop] }
    func attach(cluster: ClusterAttachment) -> [String] { [] }
    func deliverForwarded(_ message: Message, on loop: EventLoop) -> Int {
        delivered.append((message.topic, String(buffer: message.payload), nil))
        return 1
    }
    func deliverForwarded(_ message: Message, for group: SharedGroupKey, on loop: EventLoop) -> Bool {
        delivered.append((message.topic, String(buffer: message.payload), group))
        return true
    }
    func flushDeliveries(on loop: EventLoop) { flushes += 1 }
    func hasForwardBacklog(on loop: EventLoop) -> Bool { false }
    func handoffBarrier(from loop: EventLoop) -> EventLoopFuture<Void>? { nil }
    func applyReplicatedRetained(topic: String, message: Message?, stamp: RetainedStamp) -> Bool {
        retained.append((topic, message, stamp))
        return true
    }
    func replicatedRetained() -> [(topic: String, message: Message?, stamp: RetainedStamp)] { retained }
    func pruneRetainedTombstones() {}
    func surrenderSession(_ clientId: String, resume: Bool) -> EventLoopFuture<ByteBuffer?> {
        surrendered.append((clientId, resume))
        return loop.makeSucceededFuture(sessionState)
    }
    func localClientIds() -> [String] { clientIds }
    func holdsSession(_ clientId: String) -> Bool { clientIds.contains(clientId) }
}

/// A logger that keeps every message, for assertions on the log lines.
func recordingLogger() -> (Logger, NIOLockedValueBox<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>) {
    let lines = NIOLockedValueBox<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])
    let logger = Logger(label: "test") { _ in
        RecordingLogHandler { level, message, metadata, _ in lines.withLockedValue { $0.append((level, "\(message)", metadata)) } }
    }
    return (logger, lines)
}

/// A connected channel on `loop` (writes to an inactive channel fail).
func connectedChannel(_ handler: ChannelHandler? = nil, loop: EmbeddedEventLoop) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel(handler: handler, loop: loop)
    channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 4370), promise: nil)
    return channel
}

extension EmbeddedChannel {
    /// Feeds `frames` to the channel as one read.
    func receive(_ frames: Frame...) throws {
        var buffer = allocator.buffer(capacity: 64)
        for frame in frames { FrameCodec.encode(frame, into: &buffer) }
        try writeInbound(buffer)
    }

    /// Every frame written to the channel so far.
    func sentFrames() throws -> [Frame] {
        var frames: [Frame] = []
        while var buffer = try readOutbound(as: ByteBuffer.self) {
            while let frame = try FrameCodec.decode(from: &buffer) { frames.append(frame) }
        }
        return frames
    }
}

/// The topics and payloads of the PUBLISH packets in a forward frame's body (`shared`: each
/// preceded by its group's header, returned too).
func publishes(in body: ByteBuffer, shared: Bool) throws -> [(topic: String, payload: String, group: SharedGroupKey?)] {
    var body = body
    var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
    var result: [(String, String, SharedGroupKey?)] = []
    while body.readableBytes > 0 {
        let group = shared ? try FrameCodec.readSharedHeader(&body) : nil
        guard case .publish(let publish)? = try decoder.next(from: &body) else { throw FrameError("not a publish") }
        result.append((publish.topic, String(buffer: publish.payload), group))
    }
    return result
}
