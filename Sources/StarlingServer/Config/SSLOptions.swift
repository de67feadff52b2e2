/// Whether an ssl or wss listener asks clients for a certificate (`ssl_options.verify`).
public enum TLSPeerVerification: String, Sendable, Equatable, CaseIterable {
    /// Clients are asked for a certificate, which must chain to `cacertfile`.
    case verifyPeer = "verify_peer"
    /// Clients are not asked for a certificate (the default).
    case verifyNone = "verify_none"
}

/// The TLS protocol versions a listener may offer (`ssl_options.versions`): older ones never are.
public enum TLSProtocolVersion: String, Sendable, Equatable, CaseIterable, Comparable {
    case tlsv12 = "tlsv1.2"
    case tlsv13 = "tlsv1.3"

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .tlsv12 && rhs == .tlsv13 }
}

/// `[listeners.ssl.NAME.ssl_options]` and `[listeners.wss.NAME.ssl_options]`: the server's certificate
/// and key, and what it asks of clients. EMQX's key names.
public struct SSLOptions: Sendable, Equatable {
    /// The server's certificate chain (PEM, leaf first). Required for an enabled listener.
    public var certfile: String?
    /// The server's private key (PEM). Required for an enabled listener.
    public var keyfile: String?
    /// The passphrase of an encrypted `keyfile`.
    public var password: String?
    /// The CAs (PEM) client certificates must chain to; required with `verify = "verify_peer"`.
    public var cacertfile: String?
    /// Whether clients are asked for a certificate.
    public var verify = TLSPeerVerification.verifyNone
    /// With `verify_peer`: refuse a client that sends no certificate.
    public var failIfNoPeerCert = false
    /// The versions offered; the default is both.
    public var versions: [TLSProtocolVersion] = [.tlsv13, .tlsv12]
    /// TLS 1.2 cipher suites (OpenSSL or IANA names); empty: the library's default.
    public var ciphers: [String] = []
    /// How long a client has to finish its handshake, in milliseconds.
    public var handshakeTimeoutMilliseconds = 15_000

    /// True when the table names a certificate or a key: for `[api.ssl_options]` and
    /// `[cluster.ssl_options]`, the sign that TLS is wanted (and then both must be set).
    public var isConfigured: Bool { certfile != nil || keyfile != nil }
}

extension ConfigSchema {
    /// The keys of a `[listeners.ssl.NAME.ssl_options]` (or `wss`) table.
    static let sslOptionKeys: [ConfigKey<SSLOptions>] = [
        .path("certfile", \.certfile),
        .path("keyfile", \.keyfile),
        {
            var key = ConfigKey<SSLOptions>.make(
                "password", \.password, expected: "the passphrase of the encrypted keyfile",
                parse: { raw in raw.string.map(Optional.some) }, render: { $0.map(tomlQuoted) })
            key.secret = true
            return key
        }(),
        .path("cacertfile", \.cacertfile),
        .choice("verify", \.verify),
        .bool("fail_if_no_peer_cert", \.failIfNoPeerCert),
        .make("versions", \.versions, expected: "a non-empty list of \"tlsv1.3\" and \"tlsv1.2\" (comma-separated in a variable)",
              parse: { raw in
                  guard let names = raw.stringList, !names.isEmpty else { return nil }
                  let versions = names.compactMap { TLSProtocolVersion(rawValue: $0.lowercased()) }
                  return versions.count == names.count ? versions : nil
              },
              render: { "[" + $0.map { tomlQuoted($0.rawValue) }.joined(separator: ", ") + "]" }),
        .make("ciphers", \.ciphers, expected: "a list of TLS 1.2 cipher suites by their OpenSSL or IANA names, such as \"ECDHE-RSA-AES128-GCM-SHA256\" (comma-separated in a variable; empty: the library's default)",
              parse: { raw in
                  raw.stringList.flatMap { names in names.allSatisfy { !$0.isEmpty && !$0.contains(":") && !$0.contains(" ") } ? names : nil }
              },
              render: { "[" + $0.map(tomlQuoted).joined(separator: ", ") + "]" }),
        .milliseconds("handshake_timeout", 10...3_600_000, \.handshakeTimeoutMilliseconds),
    ]
}

extension ConfigKey {
    /// A file path, unset by default.
    fileprivate static func path(_ name: String, _ keyPath: WritableKeyPath<Target, String?> & Sendable) -> Self {
        make(name, keyPath, expected: "the path of a PEM file",
             parse: { raw in raw.string.flatMap { $0.isEmpty ? nil : .some($0) } }, render: { $0.map(tomlQuoted) })
    }
}
