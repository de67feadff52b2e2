import NIOCore

/// The HTTP management API: `[api]` in the config file.
public struct APIConfig: Sendable, Equatable {
    /// Whether the node serves the API at all.
    public var enabled: Bool
    /// The address to bind. While no API key exists the API binds 127.0.0.1 instead of a
    /// non-loopback address (and says so in the log).
    public var bind: String
    /// The port to bind; 0 picks a free one.
    public var port: Int
    /// `[api.ssl_options]`: the API serves HTTPS when `certfile` and `keyfile` are set.
    public var ssl = SSLOptions()

    /// The defaults: enabled, on 127.0.0.1:18083.
    public init(enabled: Bool = true, bind: String = "127.0.0.1", port: Int = 18083) {
        self.enabled = enabled
        self.bind = bind
        self.port = port
    }
}
