import Logging
import MQTTCore
import NIOCore
import StarlingKernel

/// How a dialled link's handshake ended, for `ctl cluster join`.
enum LinkOutcome: Sendable {
    case joined
    case refused(RefuseReason, String)
    case failed(String)
}

/// Reads and writes one link's frames: the cookie handshake, then heartbeats, membership, route
/// streams and forwarded messages. Runs on the link channel's loop; hands membership and route
/// changes to the `ClusterNode`'s loop and delivers forwarded messages right here.
final class LinkHandler: ChannelInboundHandler, @unchecked Sendable {  // touched on its channel's loop only
    typealias InboundIn = ByteBuffer

    private enum State {
        case awaitingHello
        case awaitingChallenge(mine: Hello)
        case awaitingProof(dialer: Hello, mine: Hello)
        case awaitingWelcome(mine: Hello, acceptor: Hello)
        case established(PeerIdentity)
        case closed
    }

    private let node: ClusterNode
    private let target: NodeAddress?
    private var link: PeerLink!
    private var state: State
    private var pending: ByteBuffer?
    private var outcome: (@Sendable (LinkOutcome) -> Void)?
    private var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)

    /// - Parameters:
    ///   - target: the node this side dialled (nil: an accepted link).
    ///   - outcome: told once how the handshake ended (dialled links only).
    init(node: ClusterNode, target: NodeAddress?, outcome: (@Sendable (LinkOutcome) -> Void)? = nil) {
        self.node = node
        self.target = target
        self.outcome = outcome
        self.state = .awaitingHello
    }

    private var peerDescription: String {
        if let name = target?.name { return name }
        if case .established(let identity) = state { return identity.address.name }
        if case .awaitingProof(let dialer, _) = state { return dialer.name }
        return "an unnamed node"
    }

    private var remoteAddress: String {
        link?.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        link = PeerLink(channel: context.channel, dialled: target != nil)
        let timeout = TimeAmount.milliseconds(Int64(max(node.config.downAfterMilliseconds, 2000)))
        context.eventLoop.scheduleTask(in: timeout) { [self] in
            switch state {
            case .established, .closed: return
            default: fail(.failed("no handshake within \(timeout.nanoseconds / 1_000_000) ms"), log: "handshake timed out")
            }
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        if target != nil {
            let mine = node.hello()
            state = .awaitingChallenge(mine: mine)
            link.send(.hello(mine))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if pending == nil || pending!.readableBytes == 0 {
            pending = incoming
        } else {
            pending!.writeBuffer(&incoming)
        }
        link.lastHeard.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
        processFrames(context: context)
    }

    private var maximumFrameLength: Int {
        if case .established = state { return Frame.maximumLength }
        return Frame.maximumHandshakeLength
    }

    /// Handles the whole frames read so far, unless a forward frame is still being delivered.
    private func processFrames(context: ChannelHandlerContext) {
        do {
            while backlog == nil, !waiting, case .some = pending,
                  let frame = try FrameCodec.decode(from: &pending!, maximumLength: maximumFrameLength) {
                handle(frame, context: context)
                if case .closed = state { return }
            }
            if pending?.readableBytes == 0 { pending = nil } else { pending?.discardReadBytes() }
        } catch {
            let message = error.unsupportedVersion != nil
                ? "peer speaks cluster protocol version \(error.unsupportedVersion!), this node speaks \(Frame.version)"
                : "bad frame: \(error.description)"
            let reason: RefuseReason = error.unsupportedVersion != nil ? .unsupportedVersion : .malformed
            link.send(.refuse(reason, message: message))
            fail(.refused(reason, message), log: message)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .established:
            node.loop.execute { [node, link] in node.linkClosed(link!) }
        case .closed:
            break
        default:
            report(.failed("the connection closed during the handshake"))
        }
        state = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        node.logger.debug("cluster link error", metadata: ["peer": "\(peerDescription)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Frames

    private func handle(_ frame: Frame, context: ChannelHandlerContext) {
        switch (state, frame) {
        case (_, .refuse(let reason, let message)):
            node.logger.error("cluster link refused by the peer",
                              metadata: ["peer": "\(peerDescription)", "address": "\(remoteAddress)", "reason": "\(reason)",
                                         "detail": "\(message)"])
            link.retire()
            report(.refused(reason, message))
            state = .closed
        case (.awaitingHello, .hello(let dialer)):
            if dialer.name == node.name {
                return refuse(.nameClash, "\(dialer.name) is the name of the node it connected to")
            }
            let mine = node.hello()
            state = .awaitingProof(dialer: dialer, mine: mine)
            link.send(.challenge(mine, proof: HandshakeProof.make(cookie: node.cookie, side: .acceptor, dialer: dialer, acceptor: mine)))
        case (.awaitingChallenge(let mine), .challenge(let acceptor, let proof)):
            if acceptor.name == node.name {
                return refuse(.nameClash, "\(acceptor.name) is also the name of the node that connected")
            }
            if let target, target.name != acceptor.name {
                return refuse(.nameClash, "the node at \(target.host):\(target.port) is named \(acceptor.name), not \(target.name)")
            }
            guard HandshakeProof.verify(proof, cookie: node.cookie, side: .acceptor, dialer: mine, acceptor: acceptor) else {
                return refuse(.wrongCookie, "\(acceptor.name)'s cookie proof does not match the cookie of \(node.name)")
            }
            state = .awaitingWelcome(mine: mine, acceptor: acceptor)
            link.send(.proof(HandshakeProof.make(cookie: node.cookie, side: .dialer, dialer: mine, acceptor: acceptor)))
        case (.awaitingProof(let dialer, let mine), .proof(let proof)):
            guard HandshakeProof.verify(proof, cookie: node.cookie, side: .dialer, dialer: dialer, acceptor: mine) else {
                return refuse(.wrongCookie, "\(dialer.name)'s cookie proof does not match the cookie of \(node.name)")
            }
            let identity = PeerIdentity(address: NodeAddress(name: dialer.name, port: dialer.port), incarnation: dialer.incarnation)
            establish(identity)
        case (.awaitingWelcome(_, let acceptor), .welcome(let members)):
            let identity = PeerIdentity(address: NodeAddress(name: acceptor.name, port: acceptor.port), incarnation: acceptor.incarnation)
            establish(identity)
            node.loop.execute { [node] in node.learn(members) }
        case (.established, .heartbeat):
            break
        case (.established, .members(let members)):
            node.loop.execute { [node] in node.learn(members) }
        case (.established(let peer), .routeSnapshot(let filters)):
            node.loop.execute { [node, link] in node.applySnapshot(filters, from: peer, link: link!) }
        case (.established(let peer), .routeOps(let ops)):
            node.loop.execute { [node, link] in node.applyRouteOps(ops, from: peer, link: link!) }
        case (.established(let peer), .forward(_, let publishes)):
            deliver(publishes: publishes, from: peer, shared: false, context: context)
        case (.established(let peer), .sharedForward(_, let publishes)):
            deliver(publishes: publishes, from: peer, shared: true, context: context)
        case (.established(let peer), .retained(let entries)):
            node.applyRetained(entries, from: peer)
        case (.established(let peer), .clientClaim), (.established(let peer), .clientHolder),
             (.established(let peer), .clientSnapshot), (.established(let peer), .clientRelease),
             (.established(let peer), .takeOver), (.established(let peer), .sessionState):
            node.loop.execute { [node, link] in node.handleRegistry(frame, from: peer, link: link!) }
        case (.established(let peer), .unknown(let type)):
            node.logger.debug("cluster: skipped a frame of a type this release does not know",
                              metadata: ["peer": "\(peer.address.name)", "type": "\(type)"])
        case (.established(let peer), .leave):
            node.loop.execute { [node, link] in node.peerLeft(peer, link: link!) }
        default:
            refuse(.malformed, "unexpected frame type \(frame.typeCode) at this point of the link")
        }
    }

    /// The handshake is done: hand the link to the node, which keeps it or refuses it.
    private func establish(_ identity: PeerIdentity) {
        state = .established(identity)
        _ = link.peer.storeIfNilThenLoad(identity)
        node.loop.execute { [node, link, self] in
            let refusal = node.admit(link!, peer: identity)
            if let refusal {
                link!.channel.eventLoop.execute { self.report(.refused(refusal.0, refusal.1)) }
            } else {
                link!.channel.eventLoop.execute { self.report(.joined) }
            }
        }
    }

    /// Refuses the link: tells the peer why, logs it naming the peer, closes.
    private func refuse(_ reason: RefuseReason, _ message: String) {
        link.send(.refuse(reason, message: message))
        fail(.refused(reason, message), log: "cluster link refused: \(reason)", detail: message)
    }

    private func fail(_ result: LinkOutcome, log message: String, detail: String? = nil) {
        var metadata: Logger.Metadata = ["peer": "\(peerDescription)", "address": "\(remoteAddress)"]
        if let detail { metadata["detail"] = "\(detail)" }
        node.logger.error("\(message)", metadata: metadata)
        state = .closed
        report(result)
        link.retire()
    }

    private func report(_ result: LinkOutcome) {
        let callback = outcome
        outcome = nil
        callback?(result)
    }

    /// Forwarded messages delivered in one event-loop turn. Between turns the loop reads the
    /// subscribers' acknowledgements and drains their sockets, so a large forward frame cannot
    /// overrun their in-flight windows and queues; meanwhile the link is not read (TCP pushes back).
    static let deliveriesPerTurn = 128
    /// How long the link waits for a subscriber slower than it before delivering on regardless
    /// (the subscriber's queue then overflows as it would on one node): one stuck client must not
    /// hold up every other subscriber of this peer's messages for long.
    static let patience = TimeAmount.milliseconds(200)

    /// The rest of a forward frame still to deliver, from whom, and whether each message is for a
    /// shared group (preceded by the group's name and filter).
    private var backlog: (publishes: ByteBuffer, peer: PeerIdentity, shared: Bool)?
    /// A continuation is scheduled: no frame is handled until it has run.
    private var waiting = false
    private var congestedSince: NIODeadline?
    private var reading = true

    /// Delivers a forward frame to this node's own subscribers, a turn's worth now and the rest in
    /// later turns.
    private func deliver(publishes: ByteBuffer, from peer: PeerIdentity, shared: Bool, context: ChannelHandlerContext) {
        backlog = (publishes, peer, shared)
        step(context: context)
    }

    /// Delivers a turn's worth of the backlog, then, when something is left, other loops have
    /// deliveries to run or subscribers are behind, stops reading the link and continues later.
    private func step(context: ChannelHandlerContext) {
        deliverChunk(context: context)
        // With several loops, deliveries to their sessions were handed over: continue once they ran,
        // so their subscribers' backlogs are known before more is delivered.
        let barrier = node.broker.handoffBarrier(from: context.eventLoop)
        let congested = barrier == nil && isCongested(context: context)
        guard backlog != nil || barrier != nil || congested else { return }
        setReading(false, context: context)
        waiting = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let next: @Sendable () -> Void = { [self] in
            waiting = false
            proceed(context: bound.value)
        }
        if let barrier {
            barrier.whenComplete { _ in next() }
        } else if congested {
            context.eventLoop.scheduleTask(in: .milliseconds(1), next)
        } else {
            context.eventLoop.execute(next)
        }
    }

    /// Continues after a pause: waits more while subscribers are behind, delivers the rest of the
    /// backlog, then handles the frames read meanwhile and reads again.
    private func proceed(context: ChannelHandlerContext) {
        guard case .established = state else { return }
        if isCongested(context: context) {
            waiting = true
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(1)) { [self] in
                waiting = false
                proceed(context: bound.value)
            }
            return
        }
        if backlog != nil {
            step(context: context)
            if waiting { return }
        }
        processFrames(context: context)
        if backlog == nil && !waiting { setReading(true, context: context) }
    }

    /// Delivers up to `deliveriesPerTurn` messages of the backlog and flushes the subscribers.
    private func deliverChunk(context: ChannelHandlerContext) {
        guard let (frame, peer, shared) = backlog else { return }
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
                    node.broker.deliverForwarded(message, for: group, on: context.eventLoop)
                } else {
                    node.broker.deliverForwarded(message, on: context.eventLoop)
                }
                delivered += 1
            }
        } catch {
            node.logger.error("cluster: bad forwarded message", metadata: ["peer": "\(peer.address.name)", "error": "\(error)"])
            publishes.moveReaderIndex(to: publishes.writerIndex)
        }
        node.broker.flushDeliveries(on: context.eventLoop)
        node.stats(for: peer.address.name).forwardedIn.wrappingIncrement(by: delivered, ordering: .relaxed)
        if publishes.readableBytes > 0 { backlog = (publishes, peer, shared) }
    }

    /// Whether subscribers on this loop are behind with forwarded messages (and still within patience).
    private func isCongested(context: ChannelHandlerContext) -> Bool {
        guard node.broker.hasForwardBacklog(on: context.eventLoop) else {
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
