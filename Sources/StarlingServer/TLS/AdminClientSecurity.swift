import NIOCore
import NIOSSL
import StarlingAdmin

extension AdminClientTLS {
    /// HTTPS to a node's API (`starling ctl --api https://HOST:PORT`): the API's certificate must
    /// chain to the CAs in `cacert` (else to the system's trust store) and name the host dialed
    /// (an IP address is checked against the certificate's IP addresses). `certificate` and `key`
    /// present a client certificate (`--certfile`, `--keyfile`) to an API whose `[api.ssl_options]` asks for one.
    /// - Throws: `ConfigError` naming the flag, the file and the fault (message without the
    ///   `config error:` prefix in `message`).
    public static func make(cacert: String?, certificate: String?, key: String?) throws(ConfigError) -> AdminClientTLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let cacert {
            let authorities = try TLSFiles.certificates(TLSFiles.FileKey(name: "--cacert", path: cacert, isFlag: true))
            configuration.trustRoots = .certificates(authorities)
        }
        switch (certificate, key) {
        case (nil, nil): break
        case (let certificate?, let key?):
            let chain = try TLSFiles.certificates(TLSFiles.FileKey(name: "--certfile", path: certificate, isFlag: true))
            let keyFile = TLSFiles.FileKey(name: "--keyfile", path: key, isFlag: true)
            guard let privateKey = try? NIOSSLPrivateKey(bytes: try keyFile.read(), format: .pem) else {
                throw keyFile.fault("holds no unencrypted PEM private key")
            }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(privateKey)
        default:
            throw ConfigError("--certfile and --keyfile go together: give both or neither")
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            throw ConfigError("--keyfile \(key ?? ""): the key does not match the certificate in --certfile \(certificate ?? "")")
        } catch {
            throw ConfigError("cannot make a TLS context: \(error)")
        }
        return AdminClientTLS(
            secure: { channel, host in
                // An IP address is no server name (SNI): NIOSSL then checks the address itself.
                let serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
            },
            describe: { error in
                switch error {
                case NIOSSLError.handshakeFailed(let inner):
                    "the handshake failed: \(TLSHandshakeFailureReason.summary(of: inner))"
                        + (cacert == nil ? " (--cacert names the CA of the API's certificate)" : "")
                case let error as NIOSSLExtraError:
                    "\(error)"
                case is NIOSSLError:
                    "\(error)"
                default:
                    nil
                }
            })
    }
}
