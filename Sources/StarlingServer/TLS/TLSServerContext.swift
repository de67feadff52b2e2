import NIOSSL

/// Makes the `NIOSSLContext` of a TLS server (an `ssl` or `wss` listener, the HTTP API) from its
/// `ssl_options`, after ``TLSFiles`` has read and checked the files.
enum TLSServerContext {
    /// The context of an enabled `ssl` or `wss` listener.
    static func make(for listener: ListenerConfig) throws(ConfigError) -> NIOSSLContext {
        try make(listener.ssl, prefix: "listeners.\(listener.qualifiedName).ssl_options",
                 whenSet: "an \(listener.kind.rawValue) listener opens only when certfile and keyfile are set (set both, or enabled = false)")
    }

    /// The context for `options`; `prefix` names their table in messages, `whenSet` says what needs
    /// the certfile and keyfile.
    static func make(_ options: SSLOptions, prefix: String, whenSet: String) throws(ConfigError) -> NIOSSLContext {
        try make(TLSFiles(options, prefix: prefix, whenSet: whenSet), options: options, prefix: prefix)
    }

    /// The context for `options`, whose files `files` has read.
    static func make(_ files: TLSFiles, options: SSLOptions, prefix: String) throws(ConfigError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: files.chain.map { .certificate($0) }, privateKey: .privateKey(files.key))
        try restrict(&configuration, to: options, prefix: prefix)
        switch options.verify {
        case .verifyNone:
            if options.failIfNoPeerCert {
                throw ConfigError("\(prefix).fail_if_no_peer_cert = true: needs verify = \"verify_peer\" (with verify_none no client certificate is asked for)")
            }
            configuration.certificateVerification = .none
        case .verifyPeer:
            guard let authorities = files.authorities else {
                throw ConfigError("\(prefix).cacertfile: not set; verify = \"verify_peer\" checks client certificates against the CAs in it")
            }
            configuration.trustRoots = .certificates(authorities)
            configuration.certificateVerification = options.failIfNoPeerCert ? .noHostnameVerification : .optionalVerification
        }
        return try files.context(configuration, prefix: prefix)
    }

    /// Applies `versions` and `ciphers` to a server's or a client's configuration.
    static func restrict(_ configuration: inout TLSConfiguration, to options: SSLOptions, prefix: String) throws(ConfigError) {
        configuration.minimumTLSVersion = options.versions.min() == .tlsv13 ? .tlsv13 : .tlsv12
        configuration.maximumTLSVersion = options.versions.max() == .tlsv12 ? .tlsv12 : .tlsv13
        if !options.ciphers.isEmpty {
            for cipher in options.ciphers where !isKnownCipher(cipher) {
                throw ConfigError("\(prefix).ciphers: unknown TLS 1.2 cipher suite \(tomlQuoted(cipher)); expected an OpenSSL or IANA name such as \"ECDHE-RSA-AES128-GCM-SHA256\" (TLS 1.3 suites are not configurable)")
            }
            configuration.cipherSuites = options.ciphers.joined(separator: ":")
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
}
