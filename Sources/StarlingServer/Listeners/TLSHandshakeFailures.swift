import NIOConcurrencyHelpers

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
        counts = NIOLockedValueBox([:])
    }

    func record(_ reason: TLSHandshakeFailureReason, listener: String) {
        counts.withLockedValue { $0[listener, default: [:]][reason, default: 0] += 1 }
    }

    /// The counter in the Prometheus text format, every reason of every TLS listener; empty without one.
    public func prometheusText() -> String {
        guard !listeners.isEmpty else { return "" }
        let snapshot = counts.withLockedValue { $0 }
        let samples = listeners.flatMap { listener in
            TLSHandshakeFailureReason.allCases.map { reason in
                ([("listener", listener), ("reason", reason.rawValue)], snapshot[listener]?[reason] ?? 0)
            }
        }
        return prometheusCounter("starling_tls_handshake_failures_total",
                                 help: "TLS handshakes that failed, by listener and reason", samples: samples)
    }
}
