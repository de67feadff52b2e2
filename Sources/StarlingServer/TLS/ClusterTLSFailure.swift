import NIOSSL
import StarlingCluster

/// What the log says when a cluster link's TLS fails, completing `cluster: link to NODE failed its
/// TLS handshake: …` (the node dialled) or `cluster: refused a link from ADDRESS: …` (accepted).
enum ClusterTLSFailure {
    /// The words for `error`; nil when it is no TLS failure, or a dialer hanging up on an accepted
    /// link (that dialer logs why).
    static func reason(_ error: any Error, dialling peer: PeerAddress?) -> String? {
        let dialled = peer != nil
        if let peer, let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "the peer's certificate does not name \(peer.host) (a node's certificate needs the host of its name as a DNS or IP subjectAltName)"
        }
        if isHangUp(error) {
            return dialled ? "the peer closed the connection during the TLS handshake" : nil
        }
        guard error is NIOSSLError || error is BoringSSLError else { return nil }
        let names = TLSHandshakeFailureReason.summary(of: error)
        if names.contains("ALERT_UNKNOWN_CA") || names.contains("ALERT_BAD_CERTIFICATE") || names.contains("ALERT_CERTIFICATE") {
            return "\(dialled ? "the peer" : "it") refused this node's certificate (\(names)): is it signed by a CA in the other node's \(ClusterTLS.prefix).cacertfile, and valid?"
        }
        switch TLSHandshakeFailureReason.classify(error, certificateExpired: false) {
        case .notTLS:
            return dialled ? "the peer does not speak TLS (has it [cluster.ssl_options]?)"
                : "it does not speak TLS and this node has [cluster.ssl_options] (set it on every node or on none)"
        case .untrusted, .expired:
            return "\(dialled ? "the peer's" : "its") certificate is not trusted (\(names)): it is not signed by a CA in \(ClusterTLS.prefix).cacertfile, or it is outside its validity period"
        case .noCertificate:
            return "it sent no certificate (every node presents one on the cluster links)"
        case .version:
            return "no TLS version in common (\(names)): compare \(ClusterTLS.prefix).versions on both nodes"
        case .timeout, .other:
            return names
        }
    }

    /// The connection closed during the handshake, or without TLS's close_notify.
    private static func isHangUp(_ error: any Error) -> Bool {
        switch error as? NIOSSLError {
        case .uncleanShutdown?:
            return true
        case .handshakeFailed(.sslError(let errors))?:
            return errors.contains(.eofDuringHandshake) || errors.contains(.eofDuringAdditionalCertficiateChainValidation)
        default:
            return false
        }
    }
}
