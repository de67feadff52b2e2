import Logging
import NIOCore
import StarlingAdmin
import StarlingCluster
import StarlingKernel
import StarlingPlugins

/// The protocol a listener speaks on its socket.
public enum ListenerKind: String, Sendable, Equatable, CaseIterable {
    /// MQTT over plain TCP.
    case tcp
    /// MQTT over WebSocket (binary frames, subprotocol `mqtt`), as browsers and EMQX's port 8083 speak it.
    case ws
    /// MQTT over TLS (EMQX's and Mosquitto's port 8883).
    case ssl
    /// MQTT over WebSocket over TLS (EMQX's port 8084).
    case wss

    /// The port a listener of this kind takes when its section names none.
    public var defaultPort: Int {
        switch self {
        case .tcp: return 1883
        case .ws: return 8083
        case .ssl: return 8883
        case .wss: return 8084
        }
    }

    /// True for the kinds that speak TLS and have `ssl_options`.
    public var usesTLS: Bool { self == .ssl || self == .wss }

    /// True for the kinds that speak WebSocket and have a `path`.
    public var isWebSocket: Bool { self == .ws || self == .wss }
}

/// One socket the node accepts MQTT connections on: `[listeners.KIND.NAME]` in the config file.
public struct ListenerConfig: Sendable, Equatable {
    /// The protocol spoken on the socket.
    public var kind: ListenerKind
    /// The listener's name, unique within its kind: letters, digits, `_` and `-`.
    public var name: String
    /// The address to bind: an IPv4 or IPv6 literal, `localhost` or a host name.
    public var bind: String
    /// The port to bind; 0 picks a free one.
    public var port: Int
    /// A disabled listener is configured but not opened.
    public var enabled: Bool
    /// The most connections this listener accepts at once.
    public var maxConnections: Int
    /// The HTTP path a WebSocket listener upgrades on (`ws` and `wss` listeners only).
    public var path: String
    /// The certificate, key and client checks of an `ssl` or `wss` listener (`ssl_options`).
    public var ssl: SSLOptions

    /// A listener; the defaults are those of the built-in `tcp.default` (`ssl`: no certificate, every other
    /// `ssl_options` key at its default).
    public init(
        kind: ListenerKind = .tcp, name: String, bind: String = "127.0.0.1", port: Int = 1883,
        enabled: Bool = true, maxConnections: Int = 1_000_000, path: String = "/mqtt", ssl: SSLOptions? = nil
    ) {
        self.path = path
        self.ssl = ssl ?? SSLOptions()
        self.kind = kind
        self.name = name
        self.bind = bind
        self.port = port
        self.enabled = enabled
        self.maxConnections = maxConnections
    }

    /// `KIND.NAME`, as listeners are named in messages.
    public var qualifiedName: String { "\(kind.rawValue).\(name)" }

    /// True when `bind` is a loopback address: 127.x.x.x, ::1 or `localhost`.
    public var isLoopback: Bool { Loopback.isLoopback(host: bind) }
}

/// The node's whole configuration: the kernel's settings plus what the server around it needs.
///
/// Built by ``load(file:environment:overrides:)`` from defaults, a TOML file, `STARLING_…__…`
/// environment variables and command-line flags, each overriding the ones before.
public struct ServerConfig: Sendable, Equatable {
    /// The kernel's settings. `settings.allowAnonymous` stays `nil` (automatic) unless
    /// `mqtt.allow_anonymous` is set explicitly.
    public var settings: BrokerSettings
    /// The listeners; by default one TCP listener `default` on 127.0.0.1:1883. A file with a
    /// `[listeners…]` section replaces this list with its own.
    public var listeners: [ListenerConfig]
    /// The least severe level logged; `.info` by default.
    public var logLevel: Logger.Level
    /// Where the node keeps its data (relative paths are relative to the working directory).
    public var dataDir: String
    /// The HTTP management API.
    public var api: APIConfig
    /// Plugins to load at start-up, in order: the file's `[[plugins]]` entries, then `--plugin` flags.
    public var plugins: [PluginConfig]
    /// What a plugin that fails to load at start-up does to the node (`[plugin_loader]`).
    public var pluginLoader: PluginLoaderSettings
    /// The cluster: cookie, cluster port, seeds, failure detection (`[cluster]`).
    public var cluster: ClusterConfig
    /// The durable store (`[storage]`).
    public var storage = StorageConfig()
    /// `[cluster.ssl_options]`: the cluster links speak TLS when `certfile` and `keyfile` are set.
    /// Cluster links always verify the peer, so `verify` defaults to `verify_peer` and
    /// `fail_if_no_peer_cert` to true here (see ``ClusterTLS``).
    public var clusterSSL = SSLOptions(verify: .verifyPeer, failIfNoPeerCert: true)

    /// A configuration; the defaults are those of a node started with no file, variable or flag.
    public init(
        settings: BrokerSettings = BrokerSettings(),
        listeners: [ListenerConfig] = [ListenerConfig(name: "default")],
        logLevel: Logger.Level = .info,
        dataDir: String = "data",
        api: APIConfig = APIConfig(),
        plugins: [PluginConfig] = [],
        pluginLoader: PluginLoaderSettings = PluginLoaderSettings(),
        cluster: ClusterConfig = ClusterConfig()
    ) {
        self.cluster = cluster
        self.settings = settings
        self.listeners = listeners
        self.logLevel = logLevel
        self.dataDir = dataDir
        self.api = api
        self.plugins = plugins
        self.pluginLoader = pluginLoader
    }

    /// True when every enabled listener binds a loopback address; anonymous clients are then
    /// allowed unless `mqtt.allow_anonymous` says otherwise.
    public func isLoopbackOnly() -> Bool {
        listeners.allSatisfy { !$0.enabled || $0.isLoopback }
    }

    /// Loads the configuration: defaults, then the TOML `file` (if any), then the `STARLING_`
    /// variables of `environment` that contain `__`, then `overrides`.
    ///
    /// - Throws: ``ConfigError`` naming the key, the value and what is allowed, for an unreadable
    ///   or malformed file, an unknown key or section, a wrong type or an out-of-range value.
    public static func load(
        file: String?, environment: [String: String], overrides: CommandLineOverrides
    ) throws(ConfigError) -> ServerConfig {
        var loader = ConfigLoader()
        if let file { try loader.applyFile(at: file) }
        try loader.applyEnvironment(environment)
        try loader.apply(overrides)
        try loader.validate()
        return loader.config
    }

    /// The effective configuration as a TOML document that loads back to this value.
    public func renderTOML() -> String {
        var lines: [String] = []
        for section in ConfigSchema.sections {
            lines.append("[\(section.name)]")
            lines += section.keys.map { $0.renderLine(self) }
            lines.append("")
            if let sslOptions = section.sslOptions {
                lines.append("[\(section.name).ssl_options]")
                lines += ConfigSchema.sslOptionKeys.map { $0.renderLine(self[keyPath: sslOptions]) }
                lines.append("")
            }
        }
        for listener in listeners {
            lines.append("[listeners.\(listener.qualifiedName)]")
            lines += ConfigSchema.listenerKeys.map { $0.renderLine(listener) }
            lines.append("")
            if listener.kind.usesTLS {
                lines.append("[listeners.\(listener.qualifiedName).ssl_options]")
                lines += ConfigSchema.sslOptionKeys.map { $0.renderLine(listener.ssl) }
                lines.append("")
            }
        }
        for plugin in plugins {
            lines += plugin.renderTOML()
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}

/// Settings given on the command line; they override the file and the environment.
public struct CommandLineOverrides: Sendable, Equatable {
    /// `--bind`: the address of listener `tcp.default`.
    public var bind: String?
    /// `--port`: the port of listener `tcp.default`.
    public var port: Int?
    /// `--log-level`: one of trace, debug, info, notice, warning, error, critical.
    public var logLevel: String?
    /// `--api-bind`: `api.bind`, the address of the HTTP API.
    public var apiBind: String?
    /// `--api-port`: `api.port`, the port of the HTTP API (0 picks a free one).
    public var apiPort: Int?
    /// `--plugin PATH` (repeatable): plugins loaded with no options, after the file's.
    public var plugins: [String]
    /// `--name`: `node.name`, the node's name `name@host`.
    public var name: String?
    /// `--cookie`: `cluster.cookie`, the cluster's shared secret (opens the cluster port).
    public var cookie: String?
    /// `--cluster-port`: `cluster.port`.
    public var clusterPort: Int?

    /// Overrides; nil leaves a setting as the file and the environment have it.
    public init(bind: String? = nil, port: Int? = nil, logLevel: String? = nil, apiBind: String? = nil,
                apiPort: Int? = nil, plugins: [String] = [], name: String? = nil, cookie: String? = nil,
                clusterPort: Int? = nil) {
        self.name = name
        self.cookie = cookie
        self.clusterPort = clusterPort
        self.bind = bind
        self.port = port
        self.logLevel = logLevel
        self.apiBind = apiBind
        self.apiPort = apiPort
        self.plugins = plugins
    }
}

/// Why a configuration could not be loaded; `description` is the message to show the user.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The message without the `config error: ` prefix.
    public var message: String

    public init(_ message: String) { self.message = message }

    /// `config error: <message>`.
    public var description: String { "config error: \(message)" }
}
