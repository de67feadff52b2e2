import NIOConcurrencyHelpers
import NIOSSL

/// A TLS endpoint whose certificate, key and CA files a reload reads again.
protocol CertificateReloading: Sendable {
    /// The endpoint's `ssl_options` table, for log lines and the reload report
    /// (`listeners.ssl.default.ssl_options`, `api.ssl_options`, `cluster.ssl_options`).
    var table: String { get }

    /// Reads the files again for `config`, the configuration a reload loaded, and returns what puts
    /// the new contents in force; nil when the endpoint's options there differ from those in force
    /// (a changed path or setting waits for a restart). Throws when a file does not load.
    func renewal(for config: ServerConfig) throws(ConfigError) -> (@Sendable () -> Void)?
}

/// The TLS context (or contexts) of one endpoint, which a reload replaces when its files have new
/// contents: connections made afterwards get the new certificate, open ones keep the one they shook
/// hands with.
final class ReloadableTLSContext<Context: Sendable>: CertificateReloading {
    let table: String
    /// The endpoint's options in the configuration in force.
    let options: SSLOptions
    /// Where the endpoint's options are in a configuration (nil: it has none there).
    private let select: @Sendable (ServerConfig) -> SSLOptions?
    private let make: @Sendable (SSLOptions) throws(ConfigError) -> Context
    private let context: NIOLockedValueBox<Context>

    /// Reads `options`' files and makes the first context with `make`.
    init(table: String, options: SSLOptions, select: @escaping @Sendable (ServerConfig) -> SSLOptions?,
         make: @escaping @Sendable (SSLOptions) throws(ConfigError) -> Context) throws(ConfigError) {
        self.table = table
        self.options = options
        self.select = select
        self.make = make
        context = NIOLockedValueBox(try make(options))
    }

    /// The context for a connection made now.
    var current: Context { context.withLockedValue { $0 } }

    func renewal(for config: ServerConfig) throws(ConfigError) -> (@Sendable () -> Void)? {
        guard select(config) == options else { return nil }
        let renewed = try make(options)
        return { [context] in context.withLockedValue { $0 = renewed } }
    }
}
