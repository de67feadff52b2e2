import NIOCore
import NIOSSL
import StarlingCluster

/// TLS on the cluster links (`[cluster.ssl_options]`): mutual TLS, every node presenting its
/// certificate and verifying the other's against `cacertfile`; the dialling node also checks that
/// the certificate names the host of the node it dials. The cookie handshake still runs inside.
struct ClusterTLS: ClusterLinkTLS {
    /// The table's dotted name, in messages.
    static let prefix = "cluster.ssl_options"

    /// The contexts new links are made with; a reload renews them.
    let contexts: ReloadableTLSContext<Contexts>

    struct Contexts {
        let acceptor: NIOSSLContext
        let dialer: NIOSSLContext
    }

    /// Reads and checks the files of `options` and makes both contexts. Cluster links always verify
    /// the peer: `verify = "verify_none"` and `fail_if_no_peer_cert = false` are refused, and
    /// `cacertfile` is required.
    init(_ options: SSLOptions) throws(ConfigError) {
        let prefix = Self.prefix
        if options.verify == .verifyNone {
            throw ConfigError("\(prefix).verify = \"verify_none\": cluster links always verify the peer's certificate against cacertfile; remove the key (verify_peer is the cluster's default)")
        }
        if !options.failIfNoPeerCert {
            throw ConfigError("\(prefix).fail_if_no_peer_cert = false: every node presents its certificate on the cluster links; remove the key (true is the cluster's default)")
        }
        contexts = try ReloadableTLSContext(table: prefix, options: options,
                                            select: { config in config.cluster.isEnabled ? config.clusterSSL : nil }) {
            options throws(ConfigError) in
            let files = try TLSFiles(options, prefix: prefix, whenSet: "cluster links speak TLS when certfile and keyfile are both set")
            guard let authorities = files.authorities else {
                throw ConfigError("\(prefix).cacertfile: not set; cluster links verify each other's certificates against the CAs in it")
            }
            return Contexts(acceptor: try TLSServerContext.make(files, options: options, prefix: prefix),
                            dialer: try TLSClientContext.make(files, trusting: authorities, options: options, prefix: prefix))
        }
    }

    func addAcceptorHandlers(to channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: contexts.current.acceptor))
    }

    func addDialerHandlers(to channel: Channel, peer: PeerAddress) throws {
        // An IP address cannot be sent as SNI; without a name NIOSSL checks the certificate's IP
        // subjectAltNames against the address connected to.
        let isAddress = (try? SocketAddress(ipAddress: peer.host, port: 0)) != nil
        try channel.pipeline.syncOperations.addHandler(
            NIOSSLClientHandler(context: contexts.current.dialer, serverHostname: isAddress ? nil : peer.host))
    }

    func failureReason(_ error: any Error, dialling peer: PeerAddress?) -> String? {
        ClusterTLSFailure.reason(error, dialling: peer)
    }
}
