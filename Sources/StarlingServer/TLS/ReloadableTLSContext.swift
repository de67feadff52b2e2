import NIOConcurrencyHelpers
import NIOSSL

/// The TLS context of one TLS server (an `ssl` or `wss` listener, the HTTP API), which a reload
/// replaces when its files have new contents: connections accepted afterwards get the new
/// certificate, open ones keep the one they shook hands with.
final class ReloadableTLSContext: Sendable {
    /// The server's `ssl_options` table, for log lines and the reload report
    /// (`listeners.ssl.default.ssl_options`, `api.ssl_options`).
    let table: String
    /// The server's options in the configuration in force.
    let options: SSLOptions
    /// Where the server's options are in a configuration (nil: it has none there).
    private let select: @Sendable (ServerConfig) -> SSLOptions?
    private let make: @Sendable (SSLOptions) throws(ConfigError) -> NIOSSLContext
    private let context: NIOLockedValueBox<NIOSSLContext>

    /// Reads `options`' files and makes the first context with `make`.
    init(table: String, options: SSLOptions, select: @escaping @Sendable (ServerConfig) -> SSLOptions?,
         make: @escaping @Sendable (SSLOptions) throws(ConfigError) -> NIOSSLContext) throws(ConfigError) {
        self.table = table
        self.options = options
        self.select = select
        self.make = make
        context = NIOLockedValueBox(try make(options))
    }

    /// The context for a connection accepted now.
    var current: NIOSSLContext { context.withLockedValue { $0 } }

    /// Reads the files again for `config`, the configuration a reload loaded, and returns the new
    /// context to ``install(_:)``; nil when the server's options there differ from those in force
    /// (a changed path or setting waits for a restart). Throws when a file does not load.
    func renewed(for config: ServerConfig) throws(ConfigError) -> NIOSSLContext? {
        guard select(config) == options else { return nil }
        return try make(options)
    }

    /// Puts `context` in force for the connections accepted from now on.
    func install(_ context: NIOSSLContext) {
        self.context.withLockedValue { $0 = context }
    }
}
