import Logging
import NIOCore
import NIOSSL
import StarlingKernel

/// The TLS side of an `ssl` or `wss` listener or of the HTTP API: its `NIOSSLContext`, made when
/// the node starts and renewed by a reload, and what each accepted connection puts first in its
/// pipeline.
struct TLSListenerSetup: Sendable {
    let context: ReloadableTLSContext<NIOSSLContext>
    /// `KIND.NAME` (or `api`), the `listener` label of the failure counter.
    let listener: String
    let handshakeTimeout: TimeAmount
    let failures: TLSHandshakeFailures
    let logger: Logger

    private init(context: ReloadableTLSContext<NIOSSLContext>, listener: String, failures: TLSHandshakeFailures,
                 logger: Logger) {
        self.context = context
        self.listener = listener
        handshakeTimeout = .milliseconds(Int64(context.options.handshakeTimeoutMilliseconds))
        self.failures = failures
        self.logger = logger
    }

    /// Reads and checks the listener's files (see ``TLSServerContext/make(for:)``).
    init(listener: ListenerConfig, failures: TLSHandshakeFailures, logger: Logger) throws(ConfigError) {
        let name = listener.qualifiedName
        let context = try ReloadableTLSContext(
            table: "listeners.\(name).ssl_options", options: listener.ssl,
            select: { config in config.listeners.first { $0.qualifiedName == name && $0.enabled }?.ssl }
        ) { options throws(ConfigError) in
            var listener = listener
            listener.ssl = options
            return try TLSServerContext.make(for: listener)
        }
        self.init(context: context, listener: name, failures: failures, logger: logger)
    }

    /// The HTTP API's TLS, from `[api.ssl_options]`; failures are counted as listener `api`.
    init(api: APIConfig, failures: TLSHandshakeFailures, logger: Logger) throws(ConfigError) {
        let context = try ReloadableTLSContext(
            table: Self.apiTable, options: api.ssl, select: { config in config.api.enabled ? config.api.ssl : nil }
        ) { options throws(ConfigError) in
            try TLSServerContext.make(options, prefix: Self.apiTable, whenSet: Self.apiWhenSet)
        }
        self.init(context: context, listener: "api", failures: failures, logger: logger)
    }

    static let apiTable = "api.ssl_options"
    static let apiWhenSet = "the API serves HTTPS when certfile and keyfile are both set"

    /// Puts `NIOSSLServerHandler` first in `channel`'s pipeline, and behind it the monitor that
    /// counts a failed handshake and closes a connection whose handshake does not finish in time.
    @discardableResult
    func addHandlers(to channel: Channel) throws -> TLSHandshakeMonitor {
        let monitor = TLSHandshakeMonitor(listener: listener, timeout: handshakeTimeout, failures: failures, logger: logger)
        let handler = try NIOSSLServerHandler.observing(context: context.current) { result, certificate in
            monitor.observe(result, certificate)
            return result
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(monitor)
        return monitor
    }

    /// ``addHandlers(to:)`` as a closure, for servers that take one.
    var channelSecurer: @Sendable (any Channel) throws -> Void {
        { channel in try addHandlers(to: channel) }
    }

    /// What the kernel is told of a connection whose handshake has completed: the TLS version and
    /// the verified client certificate, its subject and its PEM (none without a certificate). Nil
    /// when the pipeline has no TLS handler. On the channel's loop.
    ///
    /// The PEM holds `verifiedChain`, the client's certificate first and then its issuers up to the
    /// CA, as BoringSSL verified them (NIOSSL gives `peerValidatedCertificateChain` only to handlers
    /// whose own callback replaces BoringSSL's verification, so the monitor collects it); the
    /// client's certificate alone when the chain does not start with it.
    static func transportSecurity(of pipeline: ChannelPipeline.SynchronousOperations,
                                  verifiedChain: [NIOSSLCertificate]) -> TransportSecurity? {
        guard let handler = try? pipeline.handler(type: NIOSSLServerHandler.self) else { return nil }
        let version = switch handler.tlsVersion {
        case .tlsv1?: "tlsv1"
        case .tlsv11?: "tlsv1.1"
        case .tlsv12?: "tlsv1.2"
        case .tlsv13?: "tlsv1.3"
        case nil: "unknown"
        }
        guard let der = try? handler.peerCertificate?.toDERBytes(), let subject = CertificateSubject(certificateDER: der) else {
            return TransportSecurity(protocolVersion: version)
        }
        var chain = [der]
        if let chainDER = try? verifiedChain.map({ try $0.toDERBytes() }), chainDER.first == der { chain = chainDER }
        return TransportSecurity(protocolVersion: version, peerCommonName: subject.commonName,
                                 peerDistinguishedName: subject.distinguishedName,
                                 peerCertificateChainPEM: CertificatePEM.encode(chain))
    }
}

/// NIOSSL's per-certificate verification callback leaves BoringSSL's verification in place and
/// shows each certificate with its result, which is how an expired client certificate is told from
/// an untrusted one. Its initializer is deprecated in favour of callbacks that replace the
/// verification; reached through this protocol, it compiles without a warning.
private protocol ObservingServerHandler {
    init(context: NIOSSLContext, verificationCallback: NIOSSLVerificationCallback?) throws
}

extension NIOSSLServerHandler: ObservingServerHandler {
    fileprivate static func observing(
        context: NIOSSLContext, callback: @escaping NIOSSLVerificationCallback
    ) throws -> NIOSSLServerHandler {
        try make(Self.self, context: context, callback: callback)
    }

    private static func make<Handler: ObservingServerHandler>(
        _ type: Handler.Type, context: NIOSSLContext, callback: @escaping NIOSSLVerificationCallback
    ) throws -> Handler {
        try Handler(context: context, verificationCallback: callback)
    }
}
