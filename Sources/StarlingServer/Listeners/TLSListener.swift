import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS
import StarlingKernel
#if canImport(Glibc)
import Glibc
#endif

/// The TLS side of an `ssl` or `wss` listener: its `NIOSSLContext`, made once when the node starts,
/// and what each accepted connection puts first in its pipeline.
struct TLSListenerSetup: Sendable {
    let context: NIOSSLContext
    /// `KIND.NAME`, the `listener` label of the failure counter.
    let listener: String
    let handshakeTimeout: TimeAmount
    let failures: TLSHandshakeFailures
    let logger: Logger

    /// Reads and checks the listener's files (see ``TLSServerContext/make(for:)``).
    init(listener: ListenerConfig, failures: TLSHandshakeFailures, logger: Logger) throws(ConfigError) {
        context = try TLSServerContext.make(for: listener)
        self.listener = listener.qualifiedName
        handshakeTimeout = .milliseconds(Int64(listener.ssl.handshakeTimeoutMilliseconds))
        self.failures = failures
        self.logger = logger
    }

    /// Puts `NIOSSLServerHandler` first in `channel`'s pipeline, and behind it the monitor that
    /// counts a failed handshake and closes a connection whose handshake does not finish in time.
    func addHandlers(to channel: Channel) throws {
        let monitor = TLSHandshakeMonitor(listener: listener, timeout: handshakeTimeout, failures: failures, logger: logger)
        let handler = try NIOSSLServerHandler.observing(context: context) { result, certificate in
            monitor.observe(result, certificate)
            return result
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(monitor)
    }

    /// What the kernel is told of a connection whose handshake has completed: the TLS version and
    /// the verified client certificate's subject (none without a certificate). Nil when the
    /// pipeline has no TLS handler. On the channel's loop.
    static func transportSecurity(of pipeline: ChannelPipeline.SynchronousOperations) -> TransportSecurity? {
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
        return TransportSecurity(protocolVersion: version, peerCommonName: subject.commonName,
                                 peerDistinguishedName: subject.distinguishedName)
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

/// Why a TLS handshake failed: the `reason` label of `starling_tls_handshake_failures_total`.
public enum TLSHandshakeFailureReason: String, Sendable, CaseIterable {
    /// The client's certificate does not chain to `cacertfile`.
    case untrusted
    /// The client's certificate is outside its validity period.
    case expired
    /// No client certificate, with `fail_if_no_peer_cert`.
    case noCertificate = "no_certificate"
    /// The client offered no protocol version the listener allows.
    case version
    /// The bytes were not TLS (plain MQTT or HTTP to the TLS port).
    case notTLS = "not_tls"
    /// The handshake did not finish within `handshake_timeout`.
    case timeout
    case other

    /// The reason for `error`, a handshake error from NIOSSL; `certificateExpired` when the
    /// client's certificate was seen failing verification outside its validity period.
    static func classify(_ error: any Error, certificateExpired: Bool) -> Self {
        let text = String(describing: error)
        func has(_ names: String...) -> Bool { names.contains { text.contains($0) } }
        if has("CERTIFICATE_VERIFY_FAILED") { return certificateExpired ? .expired : .untrusted }
        if has("PEER_DID_NOT_RETURN_A_CERTIFICATE") { return .noCertificate }
        if has("UNSUPPORTED_PROTOCOL", "NO_SUPPORTED_VERSIONS_ENABLED", "TLSV1_ALERT_PROTOCOL_VERSION") { return .version }
        if has("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNEXPECTED_RECORD", "RECORD_TOO_LARGE",
               "ENCRYPTED_LENGTH_TOO_LONG", "BAD_PACKET_LENGTH") {
            return .notTLS
        }
        return .other
    }

    /// BoringSSL's names for the error (`CERTIFICATE_VERIFY_FAILED`), else its description: for the log line.
    static func summary(of error: any Error) -> String {
        let marker = "OPENSSL_internal:"
        let names = String(describing: error).components(separatedBy: marker).dropFirst()
            .map { $0.prefix { $0.isLetter || $0.isNumber || $0 == "_" } }
        return names.isEmpty ? "\(error)" : names.joined(separator: ",")
    }
}

/// `starling_tls_handshake_failures_total{listener,reason}`: failed handshakes, by TLS listener and reason.
public final class TLSHandshakeFailures: Sendable {
    private let counts: NIOLockedValueBox<[String: [TLSHandshakeFailureReason: Int]]>
    private let listeners: [String]

    /// Counters at zero for every reason of each listener (`KIND.NAME`).
    public init(listeners: [String]) {
        self.listeners = listeners
        counts = NIOLockedValueBox(Dictionary(uniqueKeysWithValues: listeners.map { ($0, [:]) }))
    }

    func record(_ reason: TLSHandshakeFailureReason, listener: String) {
        counts.withLockedValue { $0[listener, default: [:]][reason, default: 0] += 1 }
    }

    /// The failures counted for `listener` with `reason`.
    public func count(listener: String, reason: TLSHandshakeFailureReason) -> Int {
        counts.withLockedValue { $0[listener]?[reason] ?? 0 }
    }

    /// The counter in the Prometheus text format, every reason of every TLS listener; empty without one.
    public func prometheusText() -> String {
        guard !listeners.isEmpty else { return "" }
        let name = "starling_tls_handshake_failures_total"
        var lines = ["# HELP \(name) TLS handshakes that failed, by listener and reason", "# TYPE \(name) counter"]
        let snapshot = counts.withLockedValue { $0 }
        for listener in listeners {
            for reason in TLSHandshakeFailureReason.allCases {
                lines.append("\(name){listener=\"\(listener)\",reason=\"\(reason.rawValue)\"} \(snapshot[listener]?[reason] ?? 0)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

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

    init(listener: String, timeout: TimeAmount, failures: TLSHandshakeFailures, logger: Logger) {
        self.listener = listener
        self.timeout = timeout
        self.failures = failures
        self.logger = logger
    }

    /// Called by NIOSSL (on the channel's loop) for each certificate of the client's chain.
    func observe(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate) {
        guard result == .failed else { return }
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
            if let security = TLSListenerSetup.transportSecurity(of: context.pipeline.syncOperations) {
                context.fireUserInboundEventTriggered(security)
            }
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

/// Reads and checks an `ssl` or `wss` listener's certificate, key and CA files and makes its
/// `NIOSSLContext`. Every fault is a `ConfigError` naming the key, the file and what is wrong, so
/// that `starling start` (exit status 2) and `starling check-config` report it before any listener binds.
enum TLSServerContext {
    static func make(for listener: ListenerConfig) throws(ConfigError) -> NIOSSLContext {
        let options = listener.ssl
        let prefix = "listeners.\(listener.qualifiedName).ssl_options"
        guard let certfile = options.certfile else {
            throw ConfigError("\(prefix).certfile: not set; an \(listener.kind.rawValue) listener opens only when certfile and keyfile are set (set both, or enabled = false)")
        }
        guard let keyfile = options.keyfile else {
            throw ConfigError("\(prefix).keyfile: not set; an \(listener.kind.rawValue) listener opens only when certfile and keyfile are set (set both, or enabled = false)")
        }
        let certKey = FileKey(name: "\(prefix).certfile", path: certfile)
        let chain = try certificates(certKey)
        let now = time(nil)
        if chain[0].notValidAfter < now {
            throw certKey.fault("the certificate expired on \(timestamp(chain[0].notValidAfter))")
        }
        if chain[0].notValidBefore > now {
            throw certKey.fault("the certificate is not valid before \(timestamp(chain[0].notValidBefore))")
        }
        let keyKey = FileKey(name: "\(prefix).keyfile", path: keyfile)
        let keyBytes = try keyKey.read()
        let key: NIOSSLPrivateKey
        do {
            // Always a callback: without one BoringSSL would prompt on the terminal for an encrypted key.
            let password = Array((options.password ?? "").utf8)
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) { (setter: NIOSSLPassphraseSetter<[UInt8]>) in setter(password) }
        } catch {
            let encrypted = String(decoding: keyBytes, as: UTF8.self).contains("ENCRYPTED")
            switch (encrypted, options.password) {
            case (true, nil): throw keyKey.fault("the key is encrypted: set \(prefix).password")
            case (true, _?): throw keyKey.fault("\(prefix).password does not decrypt the key")
            default: throw keyKey.fault("holds no PEM private key")
            }
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = options.versions.min() == .tlsv13 ? .tlsv13 : .tlsv12
        configuration.maximumTLSVersion = options.versions.max() == .tlsv12 ? .tlsv12 : .tlsv13
        if !options.ciphers.isEmpty {
            for cipher in options.ciphers where !isKnownCipher(cipher) {
                throw ConfigError("\(prefix).ciphers: unknown TLS 1.2 cipher suite \(tomlQuoted(cipher)); expected an OpenSSL or IANA name such as \"ECDHE-RSA-AES128-GCM-SHA256\" (TLS 1.3 suites are not configurable)")
            }
            configuration.cipherSuites = options.ciphers.joined(separator: ":")
        }
        let cas = try options.cacertfile.map { path throws(ConfigError) in
            try certificates(FileKey(name: "\(prefix).cacertfile", path: path))
        }
        switch options.verify {
        case .verifyNone:
            if options.failIfNoPeerCert {
                throw ConfigError("\(prefix).fail_if_no_peer_cert = true: needs verify = \"verify_peer\" (with verify_none no client certificate is asked for)")
            }
            configuration.certificateVerification = .none
        case .verifyPeer:
            guard let cas else {
                throw ConfigError("\(prefix).cacertfile: not set; verify = \"verify_peer\" checks client certificates against the CAs in it")
            }
            configuration.trustRoots = .certificates(cas)
            configuration.certificateVerification = options.failIfNoPeerCert ? .noHostnameVerification : .optionalVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            throw keyKey.fault("the key does not match the certificate in \(prefix).certfile \(tomlQuoted(certfile))")
        } catch {
            throw ConfigError("\(prefix): cannot make a TLS context: \(error)")
        }
    }

    /// The TLS 1.2 suites BoringSSL implements (without PSK and 3DES), OpenSSL name to IANA name. A
    /// list naming none it knows would stop NIOSSL with a precondition failure, so names are checked here.
    static let tls12CipherSuites: [String: String] = [
        "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-AES128-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-RSA-AES128-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-ECDSA-AES128-SHA": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "ECDHE-ECDSA-AES256-SHA": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "ECDHE-RSA-AES128-SHA": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "ECDHE-RSA-AES256-SHA": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
        "AES256-SHA": "TLS_RSA_WITH_AES_256_CBC_SHA",
    ]

    /// True for a TLS 1.2 suite of ``tls12CipherSuites`` by either of its names.
    private static func isKnownCipher(_ name: String) -> Bool {
        tls12CipherSuites[name] != nil || tls12CipherSuites.values.contains(name)
    }

    /// Every PEM certificate in a file; at least one.
    private static func certificates(_ key: FileKey) throws(ConfigError) -> [NIOSSLCertificate] {
        let bytes = try key.read()
        guard let certificates = try? NIOSSLCertificate.fromPEMBytes(bytes), !certificates.isEmpty else {
            throw key.fault("holds no PEM certificate")
        }
        return certificates
    }

    private static func timestamp(_ time: time_t) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }

    /// A key naming a file, and the error messages about that file.
    private struct FileKey {
        let name: String
        let path: String

        func fault(_ what: String) -> ConfigError {
            ConfigError("\(name) = \(tomlQuoted(path)): \(what)")
        }

        /// The file's bytes, or an error with the system's reason (no such file, permission denied, …).
        func read() throws(ConfigError) -> [UInt8] {
            let descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else { throw fault("cannot read the file: \(String(cString: strerror(errno)))") }
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 { throw fault("cannot read the file: \(String(cString: strerror(errno)))") }
                if count == 0 { return bytes }
                bytes += chunk[..<count]
            }
        }
    }
}
