import MQTTCore

/// What a connection's transport knows below MQTT: the TLS version and the verified client
/// certificate (its subject, and the certificate itself as PEM). A TLS listener makes it once the
/// handshake is over and hands it to the connection (the kernel knows no TLS library); a plain TCP
/// or WebSocket connection has none. A class, so that a connection without TLS pays one pointer
/// for it, and plugins read its strings in place on every call.
public final class TransportSecurity: Sendable, Equatable {
    /// The negotiated protocol version: "tlsv1.2" or "tlsv1.3".
    public let protocolVersion: String
    /// The verified client certificate's subject common name (its last CN); nil without a
    /// certificate or without a CN.
    public let peerCommonName: String?
    /// The verified client certificate's subject in RFC 4514 form (`CN=alice,O=Example`, the most
    /// specific part first, as `openssl x509 -subject -nameopt RFC2253,-esc_msb` prints it: non-ASCII
    /// characters as they are, not as `\XX` escapes); nil without one.
    public let peerDistinguishedName: String?
    /// The verified client certificate chain in PEM, the client's certificate first (each
    /// certificate `-----BEGIN CERTIFICATE-----`, base64 in lines of 64, `-----END CERTIFICATE-----`,
    /// every line ending in "\n"); nil without a certificate. One string, made once at the handshake.
    public let peerCertificateChainPEM: String?

    public init(protocolVersion: String, peerCommonName: String? = nil, peerDistinguishedName: String? = nil,
                peerCertificateChainPEM: String? = nil) {
        self.protocolVersion = protocolVersion
        self.peerCommonName = peerCommonName
        self.peerDistinguishedName = peerDistinguishedName
        self.peerCertificateChainPEM = peerCertificateChainPEM
    }

    public static func == (lhs: TransportSecurity, rhs: TransportSecurity) -> Bool {
        (lhs.protocolVersion, lhs.peerCommonName, lhs.peerDistinguishedName, lhs.peerCertificateChainPEM)
            == (rhs.protocolVersion, rhs.peerCommonName, rhs.peerDistinguishedName, rhs.peerCertificateChainPEM)
    }

    /// The certificate's value for `field`; nil for `.none` or a field the certificate lacks.
    public func value(of field: PeerCertificateField) -> String? {
        switch field {
        case .none: nil
        case .cn: peerCommonName
        case .dn: peerDistinguishedName
        }
    }
}

/// Which part of the client certificate's subject stands in for the user name or the client id
/// (`mqtt.peer_cert_as_username`, `mqtt.peer_cert_as_clientid`, as EMQX names them).
public enum PeerCertificateField: String, Sendable, Equatable, CaseIterable {
    case none
    /// The subject's common name.
    case cn
    /// The whole subject, RFC 4514 (`TransportSecurity.peerDistinguishedName`).
    case dn
}
