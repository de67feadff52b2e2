import Logging
import MQTTCore
import NIOCore
import StarlingKernel

/// Delivers one link's forward frames to this node's own subscribers, paced: a turn's worth of
/// messages at a time, and while the rest waits (other loops running their hand-offs, subscribers
/// behind) the link is not read, so TCP pushes back on the sending node. Owned by a `LinkHandler`,
/// on its channel's loop.
final class ForwardDelivery: LoopConfined, @unchecked Sendable {
    /// Forwarded messages delivered in one event-loop turn. Between turns the loop reads the
    /// subscribers' acknowledgements and drains their sockets, so a large forward frame cannot
    /// overrun their in-flight windows and queues; meanwhile the link is not read (TCP pushes back).
    static let deliveriesPerTurn = 128
    /// How long the link waits for a subscriber slower than it before delivering on regardless
    /// (the subscriber's queue then overflows as it would on one node): one stuck client must not
    /// hold up every other subscriber of this peer's messages for long.
    static let patience = TimeAmount.milliseconds(200)

    let loop: EventLoop
    private let kernel: any ClusterKernel
    private let logger: Logger
    /// The link's handler: handles the frames read meanwhile once a pause ends.
    private weak var owner: LinkHandler?
    private var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)

    /// The rest of a forward frame still to deliver, from whom, and whether each message is for a
    /// shared group (preceded by the group's name and filter).
    private var backlog: (publishes: ByteBuffer, peer: PeerIdentity, shared: Bool, stats: PeerStats)?
    /// A continuation is scheduled: no frame is handled until it has run.
    private var waiting = false
    private var congestedSince: NIODeadline?
    private var reading = true

    init(kernel: any ClusterKernel, logger: Logger, owner: LinkHandler, loop: EventLoop) {
        self.loop = loop
        self.kernel = kernel
        self.logger = logger
        self.owner = owner
    }

    /// A forward frame is still being delivered: the link handles no further frame meanwhile.
    var isBusy: Bool {
        assertOnLoop()
        return backlog != nil || waiting
    }

    /// Delivers a forward frame to this node's own subscribers, a turn's worth now and the rest in
    /// later turns; `stats` counts the messages in.
    func deliver(publishes: ByteBuffer, from peer: PeerIdentity, shared: Bool, stats: PeerStats, context: ChannelHandlerContext) {
        assertOnLoop()
        backlog = (publishes, peer, shared, stats)
        step(context: context)
    }

    /// Delivers a turn's worth of the backlog, then, when something is left, other loops have
    /// deliveries to run or subscribers are behind, stops reading the link and continues later.
    private func step(context: ChannelHandlerContext) {
        deliverChunk(context: context)
        // With several loops, deliveries to their sessions were handed over: continue once they ran,
        // so their subscribers' backlogs are known before more is delivered.
        let barrier = kernel.handoffBarrier(from: context.eventLoop)
        let congested = barrier == nil && isCongested(context: context)
        guard backlog != nil || barrier != nil || congested else { return }
        setReading(false, context: context)
        if let barrier {
            pause(context: context) { next in barrier.whenComplete { _ in next() } }
        } else if congested {
            pause(context: context) { next in context.eventLoop.scheduleTask(in: .milliseconds(1), next) }
        } else {
            pause(context: context) { next in context.eventLoop.execute(next) }
        }
    }

    /// Waits: `schedule` runs `proceed` later.
    private func pause(context: ChannelHandlerContext, _ schedule: (@escaping @Sendable () -> Void) -> Void) {
        waiting = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        schedule { [self] in
            waiting = false
            proceed(context: bound.value)
        }
    }

    /// Continues after a pause: waits more while subscribers are behind, delivers the rest of the
    /// backlog, then handles the frames read meanwhile and reads again.
    private func proceed(context: ChannelHandlerContext) {
        guard let owner, owner.isEstablished else { return }
        if isCongested(context: context) {
            return pause(context: context) { next in context.eventLoop.scheduleTask(in: .milliseconds(1), next) }
        }
        if backlog != nil {
            step(context: context)
            if waiting { return }
        }
        owner.processFrames(context: context)
        if backlog == nil && !waiting { setReading(true, context: context) }
    }

    /// Delivers up to `deliveriesPerTurn` messages of the backlog and flushes the subscribers.
    private func deliverChunk(context: ChannelHandlerContext) {
        guard let (frame, peer, shared, stats) = backlog else { return }
        var publishes = frame
        backlog = nil
        let now = NIODeadline.now()
        var delivered = 0
        do {
            while delivered < Self.deliveriesPerTurn, publishes.readableBytes > 0 {
                let group = shared ? try FrameCodec.readSharedHeader(&publishes) : nil
                guard let packet = try decoder.next(from: &publishes) else { throw FrameError("truncated forwarded message") }
                guard case .publish(let publish) = packet else { continue }
                let message = Message(publish: publish, topic: publish.topic, publisherId: nil, now: now, forwarded: true)
                if let group {
                    kernel.deliverForwarded(message, for: group, on: context.eventLoop)
                } else {
                    kernel.deliverForwarded(message, on: context.eventLoop)
                }
                delivered += 1
            }
        } catch {
            logger.error("cluster: bad forwarded message", metadata: ["peer": "\(peer.address.name)", "error": "\(error)"])
            publishes.moveReaderIndex(to: publishes.writerIndex)
        }
        kernel.flushDeliveries(on: context.eventLoop)
        stats.forwardedIn.wrappingIncrement(by: delivered, ordering: .relaxed)
        if publishes.readableBytes > 0 { backlog = (publishes, peer, shared, stats) }
    }

    /// Whether subscribers on this loop are behind with forwarded messages (and still within patience).
    private func isCongested(context: ChannelHandlerContext) -> Bool {
        guard kernel.hasForwardBacklog(on: context.eventLoop) else {
            congestedSince = nil
            return false
        }
        let now = NIODeadline.now()
        if congestedSince == nil { congestedSince = now }
        return now - congestedSince! < Self.patience
    }

    private func setReading(_ on: Bool, context: ChannelHandlerContext) {
        guard reading != on else { return }
        reading = on
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: on)
        if on { context.read() }
    }
}
