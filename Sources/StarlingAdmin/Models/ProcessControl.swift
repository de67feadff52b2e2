import NIOCore

/// What the API needs from the node around the kernel: what it is and how to reload its
/// configuration. `StarlingServer`'s running node provides it.
public protocol ProcessControl: Sendable {
    /// The node as `GET /api/v1/nodes` shows it.
    var nodeDescription: NodeDescription { get }

    /// Reads the configuration again and puts its live settings in force.
    /// - Throws: `ReloadError` with the config error; nothing has changed then.
    func reload() throws(ReloadError) -> ReloadReport
}

/// The node's identity and listeners.
public struct NodeDescription: Sendable {
    /// `name@host`.
    public var name: String
    public var version: String
    /// When the node started.
    public var startedAt: NIODeadline
    /// The MQTT listeners with their bound ports.
    public var listeners: [ListenerDescription]

    public init(name: String, version: String, startedAt: NIODeadline, listeners: [ListenerDescription]) {
        self.name = name
        self.version = version
        self.startedAt = startedAt
        self.listeners = listeners
    }

    /// Whole seconds since the node started.
    public var uptimeSeconds: Int64 { (NIODeadline.now() - startedAt).nanoseconds / 1_000_000_000 }
}

/// One bound MQTT listener.
public struct ListenerDescription: Sendable, Codable, Equatable {
    /// `KIND.NAME`, e.g. `tcp.default`.
    public var name: String
    /// The protocol: `tcp`.
    public var type: String
    public var bind: String
    /// The bound port (a configured 0 is resolved).
    public var port: Int
    public var maxConnections: Int

    public init(name: String, type: String, bind: String, port: Int, maxConnections: Int) {
        self.name = name
        self.type = type
        self.bind = bind
        self.port = port
        self.maxConnections = maxConnections
    }
}

/// What a reload did: the settings now in force and those that wait for a restart.
public struct ReloadReport: Sendable, Codable, Equatable {
    /// Changed settings that took effect at once.
    public var changed: [SettingChange]
    /// Changed settings that take effect only when the node restarts.
    public var restartRequired: [SettingChange]
    /// The `ssl_options` tables whose certificate, key and CA files were read again: connections
    /// accepted from now on get their new contents.
    public var certificatesReloaded: [String]

    public init(changed: [SettingChange], restartRequired: [SettingChange], certificatesReloaded: [String] = []) {
        self.changed = changed
        self.restartRequired = restartRequired
        self.certificatesReloaded = certificatesReloaded
    }
}

/// One setting whose value differs: its dotted key and both values as TOML literals
/// (nil for a value left unset or a listener that does not exist on that side).
public struct SettingChange: Sendable, Codable, Equatable {
    public var key: String
    public var old: String?
    public var new: String?

    public init(key: String, old: String?, new: String?) {
        self.key = key
        self.old = old
        self.new = new
    }
}

/// A reload that changed nothing, with the reason (a config error).
public struct ReloadError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
