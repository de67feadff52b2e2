import Foundation
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

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
