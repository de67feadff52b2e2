import Foundation
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// The certificate chain, private key and CAs named by one `ssl_options` table, read and checked.
/// Every fault is a `ConfigError` naming the key, the file and what is wrong, so that `starling
/// start` (exit status 2), `starling check-config` and a reload report it the same way.
struct TLSFiles {
    /// The certificate chain, leaf first.
    let chain: [NIOSSLCertificate]
    let key: NIOSSLPrivateKey
    /// The CAs of `cacertfile`; nil when it is not set.
    let authorities: [NIOSSLCertificate]?
    /// The name of the `certfile` key and its path, for messages about the pair.
    let certfileKey: FileKey
    let keyfileKey: FileKey

    /// Reads `options`' files; `prefix` is the table's dotted name (`listeners.ssl.default.ssl_options`)
    /// and `whenSet` completes "…: not set; " for a missing certfile or keyfile.
    init(_ options: SSLOptions, prefix: String, whenSet: String) throws(ConfigError) {
        guard let certfile = options.certfile else { throw ConfigError("\(prefix).certfile: not set; \(whenSet)") }
        guard let keyfile = options.keyfile else { throw ConfigError("\(prefix).keyfile: not set; \(whenSet)") }
        certfileKey = FileKey(name: "\(prefix).certfile", path: certfile)
        keyfileKey = FileKey(name: "\(prefix).keyfile", path: keyfile)
        chain = try Self.certificates(certfileKey)
        let now = time(nil)
        if chain[0].notValidAfter < now {
            throw certfileKey.fault("the certificate expired on \(Self.timestamp(chain[0].notValidAfter))")
        }
        if chain[0].notValidBefore > now {
            throw certfileKey.fault("the certificate is not valid before \(Self.timestamp(chain[0].notValidBefore))")
        }
        let keyBytes = try keyfileKey.read()
        do {
            // Always a callback: without one BoringSSL would prompt on the terminal for an encrypted key.
            let password = Array((options.password ?? "").utf8)
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) { (setter: NIOSSLPassphraseSetter<[UInt8]>) in setter(password) }
        } catch {
            let encrypted = String(decoding: keyBytes, as: UTF8.self).contains("ENCRYPTED")
            switch (encrypted, options.password) {
            case (true, nil): throw keyfileKey.fault("the key is encrypted: set \(prefix).password")
            case (true, _?): throw keyfileKey.fault("\(prefix).password does not decrypt the key")
            default: throw keyfileKey.fault("holds no PEM private key")
            }
        }
        authorities = try options.cacertfile.map { path throws(ConfigError) in
            try Self.certificates(FileKey(name: "\(prefix).cacertfile", path: path))
        }
    }

    /// Makes the context for `configuration`, which holds these files: a key that does not match
    /// the certificate is told here, when BoringSSL pairs them.
    func context(_ configuration: TLSConfiguration, prefix: String) throws(ConfigError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            throw keyfileKey.fault("the key does not match the certificate in \(certfileKey.name) \(tomlQuoted(certfileKey.path))")
        } catch {
            throw ConfigError("\(prefix): cannot make a TLS context: \(error)")
        }
    }

    /// Every PEM certificate in a file; at least one.
    static func certificates(_ key: FileKey) throws(ConfigError) -> [NIOSSLCertificate] {
        let bytes = try key.read()
        guard let certificates = try? NIOSSLCertificate.fromPEMBytes(bytes), !certificates.isEmpty else {
            throw key.fault("holds no PEM certificate")
        }
        return certificates
    }

    private static func timestamp(_ time: time_t) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }

    /// A key (or a command-line flag) naming a file, and the error messages about that file.
    struct FileKey {
        let name: String
        let path: String
        /// True for a command-line flag: messages say `--cacert FILE:` rather than `key = "FILE":`.
        var isFlag = false

        func fault(_ what: String) -> ConfigError {
            ConfigError(isFlag ? "\(name) \(path): \(what)" : "\(name) = \(tomlQuoted(path)): \(what)")
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
