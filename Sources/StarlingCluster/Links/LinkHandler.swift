import Logging
import NIOCore
import StarlingKernel

/// How a dialled link's handshake ended, for `ctl cluster join`.
enum LinkOutcome: Sendable {
    case joined
    case refused(RefuseReason, String)
    /// TLS on one side only, or a TLS handshake that failed; the text is the log line's.
    case insecure(String)
    case failed(String)
}

/// What a link needs from its node (the `ClusterMember`). The frame methods are called on the
/// link's loop, in the order the frames arrived; the node hops to its own loop where it must.
protocol LinkDelegate: AnyObject, Sendable {
    var name: String { get }
    var cookie: String { get }
    var logger: Logger { get }
    var kernel: any ClusterKernel { get }
    /// TLS on the links; nil: they speak plain frames.
    var linkTLS: (any ClusterLinkTLS)? { get }
    /// How long a link may take to finish its handshake.
    var handshakeTimeout: TimeAmount { get }
    /// This node's hello, with a fresh nonce.
    func hello() -> Hello
    func stats(for peer: String) -> PeerStats
    /// The handshake is done: keep the link or refuse it; `decided` hears the refusal (nil: kept).
    func admit(_ link: PeerLink, peer: PeerIdentity, decided: @escaping @Sendable ((RefuseReason, String)?) -> Void)
    /// Members a peer told about.
    func learn(_ members: [PeerAddress])
    /// An established link closed.
    func linkClosed(_ link: PeerLink)
    /// A route, retained, client registry or leave frame from an established link.
    func received(_ frame: Frame, from peer: PeerIdentity, link: PeerLink)
}

/// Reads and writes one link's frames: the cookie handshake (`LinkHandshake`), then heartbeats,
/// membership, route streams and forwarded messages. Runs on the link channel's loop; hands
/// membership and route changes to its `LinkDelegate` and delivers forwarded messages right here
/// (`ForwardDelivery`).
final class LinkHandler: ChannelInboundHandler, LoopConfined, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let node: any LinkDelegate
    private var link: PeerLink!
    private var handshake: LinkHandshake
    private var peer: PeerIdentity?
    private var pending: ByteBuffer?
    private var outcome: (@Sendable (LinkOutcome) -> Void)?
    private var delivery: ForwardDelivery!
    /// True on a plain link until its first bytes have been checked for TLS.
    private var checksFirstBytes: Bool

    /// - Parameters:
    ///   - target: the node this side dialled (nil: an accepted link).
    ///   - outcome: told once how the handshake ended (dialled links only).
    init(node: any LinkDelegate, target: PeerAddress?, outcome: (@Sendable (LinkOutcome) -> Void)? = nil) {
        self.node = node
        self.outcome = outcome
        self.handshake = LinkHandshake(name: node.name, cookie: node.cookie, target: target)
        self.checksFirstBytes = node.linkTLS == nil
    }

    private var remoteAddress: String {
        link?.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
    }

    /// The link channel's loop (from `handlerAdded` on).
    var loop: EventLoop { link.channel.eventLoop }

    /// True once the handshake is done and until the link closes.
    var isEstablished: Bool { handshake.isEstablished }

    func handlerAdded(context: ChannelHandlerContext) {
        link = PeerLink(channel: context.channel, dialled: handshake.target != nil)
        delivery = ForwardDelivery(kernel: node.kernel, logger: node.logger, owner: self, loop: context.eventLoop)
        let timeout = node.handshakeTimeout
        context.eventLoop.scheduleTask(in: timeout) { [self] in
            switch handshake.state {
            case .established, .closed: return
            default: fail(.failed("no handshake within \(timeout.nanoseconds / 1_000_000) ms"), log: "handshake timed out")
            }
        }
    }

    func channelActive(context: ChannelHandlerContext) {

        assertOnLoop()
        if handshake.target != nil {
            link.send(handshake.start(node.hello()))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {

        assertOnLoop()
        var incoming = unwrapInboundIn(data)
        if pending == nil || pending!.readableBytes == 0 {
            pending = incoming
        } else {
            pending!.writeBuffer(&incoming)
        }
        link.lastHeard.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
        if checksFirstBytes, pending!.readableBytes >= 2 {
            checksFirstBytes = false
            if TLSRecordHeader.begins(pending!) { return refusePeerSpeakingTLS() }
        }
        processFrames(context: context)
    }

    private var maximumFrameLength: Int {
        handshake.isEstablished ? Frame.maximumLength : Frame.maximumHandshakeLength
    }

    /// Handles the whole frames read so far, unless a forward frame is still being delivered.
    func processFrames(context: ChannelHandlerContext) {
        assertOnLoop()
        do {
            while !delivery.isBusy, case .some = pending,
                  let frame = try FrameCodec.decode(from: &pending!, maximumLength: maximumFrameLength) {
                handle(frame, context: context)
                if case .closed = handshake.state { return }
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

        assertOnLoop()
        switch handshake.state {
        case .established:
            node.linkClosed(link!)
        case .closed:
            break
        default:
            report(.failed("the connection closed during the handshake"))
        }
        handshake.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !handshake.isEstablished, handshake.state != .closed,
           let reason = node.linkTLS?.failureReason(error, dialling: handshake.target) {
            let line = handshake.target.map { "link to \($0) failed its TLS handshake: \(reason)" }
                ?? "refused a link from \(remoteAddress): \(reason)"
            return failInsecure(line)
        }
        node.logger.debug("cluster link error", metadata: ["peer": "\(handshake.peerDescription)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Frames

    private func handle(_ frame: Frame, context: ChannelHandlerContext) {
        if case .refuse(let reason, let message) = frame {
            node.logger.error("cluster link refused by the peer",
                              metadata: ["peer": "\(handshake.peerDescription)", "address": "\(remoteAddress)", "reason": "\(reason)",
                                         "detail": "\(message)"])
            link.retire()
            report(.refused(reason, message))
            handshake.close()
            return
        }
        guard let peer, handshake.isEstablished else {
            return handleHandshake(frame)
        }
        switch frame {
        case .heartbeat:
            break
        case .members(let members):
            node.learn(members)
        case .forward(_, let publishes):
            delivery.deliver(publishes: publishes, from: peer, shared: false, stats: node.stats(for: peer.address.name), context: context)
        case .sharedForward(_, let publishes):
            delivery.deliver(publishes: publishes, from: peer, shared: true, stats: node.stats(for: peer.address.name), context: context)
        case .routeSnapshot, .routeOps, .retained, .leave, .clientClaim, .clientHolder, .clientSnapshot, .clientRelease,
             .takeOver, .sessionState:
            node.received(frame, from: peer, link: link)
        case .unknown(let type):
            node.logger.debug("cluster: skipped a frame of a type this release does not know",
                              metadata: ["peer": "\(peer.address.name)", "type": "\(type)"])
        default:
            refuse(.malformed, "unexpected frame type \(frame.typeCode) at this point of the link")
        }
    }

    private func handleHandshake(_ frame: Frame) {
        switch handshake.receive(frame, hello: node.hello) {
        case .send(let reply):
            link.send(reply)
        case .refuse(let reason, let message):
            refuse(reason, message)
        case .establish(let address, let incarnation, let members):
            let identity = PeerIdentity(address: address, incarnation: incarnation)
            peer = identity
            _ = link.peer.storeIfNilThenLoad(identity)
            let channelLoop = link.channel.eventLoop
            // The handshake is done: the node keeps the link or refuses it.
            node.admit(link, peer: identity) { [self] refusal in
                channelLoop.execute {
                    self.report(refusal.map { .refused($0.0, $0.1) } ?? .joined)
                }
            }
            if let members { node.learn(members) }
        }
    }

    /// Refuses the link: tells the peer why, logs it naming the peer, closes.
    private func refuse(_ reason: RefuseReason, _ message: String) {
        link.send(.refuse(reason, message: message))
        fail(.refused(reason, message), log: "cluster link refused: \(reason)", detail: message)
    }

    /// This node has no TLS on its links and the peer speaks it: its ClientHello arrived (an
    /// accepted link) or its alert (a dialled one).
    private func refusePeerSpeakingTLS() {
        let remedy = "this node has no [cluster.ssl_options] (set it on every node or on none)"
        guard let target = handshake.target else {
            // Plain bytes, which the peer's TLS refuses at once as not TLS (rather than timing out).
            link.send(.refuse(.malformed, message: "\(node.name) does not speak TLS on its cluster links"))
            return failInsecure("refused a link from \(remoteAddress): it speaks TLS and \(remedy)")
        }
        failInsecure("link to \(target) refused: the peer speaks TLS and \(remedy)")
    }

    /// Ends a link whose TLS is on one side only or failed: logs `cluster: LINE` as a warning, closes.
    private func failInsecure(_ line: String) {
        node.logger.warning("cluster: \(line)")
        handshake.close()
        report(.insecure(line))
        link.retire()
    }

    private func fail(_ result: LinkOutcome, log message: String, detail: String? = nil) {
        var metadata: Logger.Metadata = ["peer": "\(handshake.peerDescription)", "address": "\(remoteAddress)"]
        if let detail { metadata["detail"] = "\(detail)" }
        node.logger.error("\(message)", metadata: metadata)
        handshake.close()
        report(result)
        link.retire()
    }

    private func report(_ result: LinkOutcome) {
        let callback = outcome
        outcome = nil
        callback?(result)
    }
}
