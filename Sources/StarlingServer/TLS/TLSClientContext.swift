import NIOSSL

/// Makes the `NIOSSLContext` of a TLS client that presents its own certificate and trusts only
/// given CAs: a node dialling another on the cluster port.
enum TLSClientContext {
    /// The context for `options`, whose files `files` has read: `files`' chain and key as the client
    /// certificate, `authorities` as the only trust roots, and the server's certificate checked to
    /// name the host dialled (a DNS or IP subjectAltName).
    static func make(_ files: TLSFiles, trusting authorities: [NIOSSLCertificate], options: SSLOptions,
                     prefix: String) throws(ConfigError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = files.chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(files.key)
        configuration.trustRoots = .certificates(authorities)
        configuration.certificateVerification = .fullVerification
        try TLSServerContext.restrict(&configuration, to: options, prefix: prefix)
        return try files.context(configuration, prefix: prefix)
    }
}
