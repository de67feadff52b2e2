import Logging
import NIOCore
import NIOSSL
import NIOTLS
import StarlingKernel
#if canImport(Glibc)
import Glibc
#endif

/// Sits behind `NIOSSLServerHandler` until the handshake completes, then removes itself. A failed
/// handshake is logged at info with the peer and the reason, counted, and closes the connection;
/// so does a handshake still unfinished after the listener's `handshake_timeout`.
final class TLSHandshakeMonitor: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private enum State { case handshaking, completed, failed, closed }

    private let listener: String
    private let timeout: TimeAmount
    private let failures: TLSHandshakeFailures
    private let logger: Logger
    private var state = State.handshaking
    private var timer: Scheduled<Void>?
    /// Set by the verification callback: the client's certificate failed outside its validity period.
    private var certificateExpired = false
    /// The client's chain as BoringSSL verified it, the CA first; kept until the handshake completes.
    private var verifiedChain: [NIOSSLCertificate] = []
    /// What the kernel is told of this connection, once the handshake has completed (read by a
    /// `wss` listener, whose MQTT handler is added after the WebSocket upgrade).
    private(set) var security: TransportSecurity?

    init(listener: String, timeout: TimeAmount, failures: TLSHandshakeFailures, logger: Logger) {
        self.listener = listener
        self.timeout = timeout
        self.failures = failures
        self.logger = logger
    }

    /// Called by NIOSSL (on the channel's loop) for each certificate of the client's chain.
    func observe(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate) {
        guard result == .failed else {
            if verifiedChain.last != certificate { verifiedChain.append(certificate) }
            return
        }
        let now = time(nil)
        if certificate.notValidAfter < now || certificate.notValidBefore > now { certificateExpired = true }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if state == .handshaking { state = .closed }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if state == .handshaking, let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            state = .completed
            timer?.cancel()
            // Ahead of any decrypted byte (NIOSSL reads application data only after this event),
            // so the MQTT connection knows it before a CONNECT arrives. Over WebSocket the MQTT
            // handler comes later and is given it when it is added (`WebSocketListener`).
            security = TLSListenerSetup.transportSecurity(of: context.pipeline.syncOperations,
                                                          verifiedChain: verifiedChain.reversed())
            verifiedChain = []
            if let security { context.fireUserInboundEventTriggered(security) }
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch state {
        case .handshaking:
            fail(context: context, reason: .classify(error, certificateExpired: certificateExpired),
                 error: TLSHandshakeFailureReason.summary(of: error))
        case .failed, .closed:
            break
        case .completed:
            context.fireErrorCaught(error)
        }
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard timer == nil, state == .handshaking else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            fail(context: context, reason: .timeout, error: "no handshake within \(timeout.nanoseconds / 1_000_000) ms")
        }
    }

    private func fail(context: ChannelHandlerContext, reason: TLSHandshakeFailureReason, error: String) {
        guard state == .handshaking else { return }
        state = .failed
        timer?.cancel()
        failures.record(reason, listener: listener)
        logger.info("TLS handshake failed", metadata: [
            "listener": "\(listener)", "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")",
            "reason": "\(reason.rawValue)", "error": "\(error)",
        ])
        context.close(promise: nil)
    }
}
