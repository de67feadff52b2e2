import Foundation
import TOMLKit

/// Where a value came from, so that errors name it the way the user wrote it.
enum ConfigOrigin {
    case file(String)
    case variable(String)
    case flag(String)

    /// How a value error names the setting: the dotted key in the file, else the variable or flag.
    func subject(_ dottedKey: String) -> String {
        switch self {
        case .file: dottedKey
        case .variable(let name), .flag(let name): name
        }
    }

    /// Placed after the value in a value error.
    var valueNote: String {
        if case .file(let path) = self { " (in \(path))" } else { "" }
    }

    /// Placed after a key or section that is not known.
    var whereNote: String {
        switch self {
        case .file(let path): " (in \(path))"
        case .variable(let name), .flag(let name): " in \(name)"
        }
    }
}

/// Applies the file, the environment and the flags, in that order, to a `ServerConfig`.
struct ConfigLoader {
    static let variablePrefix = "STARLING_"

    var config = ServerConfig()

    // MARK: File

    mutating func applyFile(at path: String) throws(ConfigError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(path):\(error.source.begin.line):\(error.source.begin.column): invalid TOML: \(error.description)")
        } catch {
            throw ConfigError("\(path): invalid TOML: \(error)")
        }
        let origin = ConfigOrigin.file(path)
        for (sectionName, node) in root {
            if sectionName == "listeners" {
                try applyListenersTable(Self.table(node, at: sectionName, origin: origin), origin: origin)
            } else if sectionName == "plugins" {
                config.plugins = try PluginConfig.entries(node, origin: origin)
            } else if let section = ConfigSchema.section(named: sectionName) {
                for (key, value) in try Self.table(node, at: sectionName, origin: origin) {
                    if key == Self.sslOptionsKey, let sslOptions = section.sslOptions {
                        try applySSLOptionsTable(value, at: "\(sectionName).\(key)", to: sslOptions, origin: origin)
                        continue
                    }
                    try Self.set(key, in: section.keys, section: sectionName, raw: Self.raw(value), target: &config, origin: origin)
                }
            } else {
                throw Self.unknownSection(sectionName, origin: origin)
            }
        }
    }

    /// `[listeners.KIND.NAME]` tables: the file's listeners replace the default one.
    private mutating func applyListenersTable(_ listeners: TOMLTable, origin: ConfigOrigin) throws(ConfigError) {
        config.listeners = []
        for (kindName, kindNode) in listeners {
            let kind = try Self.listenerKind(kindName, origin: origin)
            let kindTable = try Self.table(kindNode, at: "listeners.\(kindName)", origin: origin)
            for (name, node) in kindTable {
                let index = try listenerIndex(kind: kind, name: name, origin: origin)
                let section = "listeners.\(kindName).\(name)"
                for (key, value) in try Self.table(node, at: section, origin: origin) {
                    if key == Self.sslOptionsKey {
                        try Self.requireTLS(kind, section: section, origin: origin)
                        try applySSLOptionsTable(value, at: "\(section).\(key)", to: \.listeners[index].ssl, origin: origin)
                        continue
                    }
                    try Self.set(key, in: ConfigSchema.listenerKeys, section: section, raw: Self.raw(value),
                                 target: &config.listeners[index], origin: origin)
                }
            }
        }
    }

    /// An `ssl_options` table's keys, into the options at `target`.
    private mutating func applySSLOptionsTable(
        _ node: TOMLValueConvertible, at path: String, to target: WritableKeyPath<ServerConfig, SSLOptions>, origin: ConfigOrigin
    ) throws(ConfigError) {
        for (option, value) in try Self.table(node, at: path, origin: origin) {
            try Self.set(option, in: ConfigSchema.sslOptionKeys, section: path, raw: Self.raw(value),
                         target: &config[keyPath: target], origin: origin)
        }
    }

    /// `node` as a table, or an error saying that `path` must be one.
    private static func table(_ node: TOMLValueConvertible, at path: String, origin: ConfigOrigin) throws(ConfigError) -> TOMLTable {
        if let table = node.table { return table }
        throw ConfigError("\(path) = \(raw(node).display)\(origin.valueNote): expected a table [\(path)]")
    }

    static func raw(_ node: TOMLValueConvertible) -> RawValue {
        switch node.type {
        case .int: node.int.map(RawValue.int) ?? .other("integer")
        case .double: node.double.map(RawValue.double) ?? .other("number")
        case .bool: node.bool.map(RawValue.bool) ?? .other("bool")
        case .string: node.string.map(RawValue.string) ?? .other("string")
        case .array:
            if let array = node.array, case let strings = array.compactMap(\.string), strings.count == array.count {
                .strings(strings)
            } else {
                .other("array")
            }
        default: .other(node.type.description)
        }
    }

    // MARK: Environment

    /// Applies every `STARLING_…` variable that contains `__`, in name order.
    mutating func applyEnvironment(_ environment: [String: String]) throws(ConfigError) {
        let variables = environment.keys.filter { $0.hasPrefix(Self.variablePrefix) && $0.contains("__") }.sorted()
        for variable in variables {
            let path = variable.dropFirst(Self.variablePrefix.count).components(separatedBy: "__").map { $0.lowercased() }
            try applyVariable(variable, path: path, value: environment[variable]!, environment: environment)
        }
    }

    private mutating func applyVariable(
        _ variable: String, path: [String], value: String, environment: [String: String]
    ) throws(ConfigError) {
        let origin = ConfigOrigin.variable(variable)
        let raw = RawValue.text(value)
        if path[0] == "plugins" {
            throw ConfigError("\(variable): plugins are configured as [[plugins]] entries in the config file or with --plugin PATH")
        }
        if path[0] == "listeners" {
            let isSSLOption = path.count == 5 && path[3] == Self.sslOptionsKey
            guard path.count == 4 || isSSLOption else {
                throw ConfigError("\(variable): a listener variable is STARLING_LISTENERS__<KIND>__<NAME>__<KEY> "
                    + "or STARLING_LISTENERS__<KIND>__<NAME>__SSL_OPTIONS__<KEY>")
            }
            let kind = try Self.listenerKind(path[1], origin: origin)
            let exists = config.listeners.contains { $0.kind == kind && $0.name.lowercased() == path[2] }
            let portVariable = variable.components(separatedBy: "__").prefix(3).joined(separator: "__") + "__PORT"
            if !exists && environment[portVariable] == nil {
                throw ConfigError("\(variable) adds listener \(kind.rawValue).\(path[2]), which needs a port: set \(portVariable)")
            }
            let index = try listenerIndex(kind: kind, name: path[2], origin: origin)
            let section = path[..<3].joined(separator: ".")
            if isSSLOption {
                try Self.requireTLS(kind, section: section, origin: origin)
                try Self.set(path[4], in: ConfigSchema.sslOptionKeys, section: "\(section).\(Self.sslOptionsKey)", raw: raw,
                             target: &config.listeners[index].ssl, origin: origin)
            } else {
                try Self.set(path[3], in: ConfigSchema.listenerKeys, section: section, raw: raw,
                             target: &config.listeners[index], origin: origin)
            }
        } else if let section = ConfigSchema.section(named: path[0]), let sslOptions = section.sslOptions,
                  path.count == 3, path[1] == Self.sslOptionsKey {
            try Self.set(path[2], in: ConfigSchema.sslOptionKeys, section: "\(section.name).\(Self.sslOptionsKey)", raw: raw,
                         target: &config[keyPath: sslOptions], origin: origin)
        } else if let section = ConfigSchema.section(named: path[0]) {
            try Self.set(path[1...].joined(separator: "__"), in: section.keys, section: section.name, raw: raw,
                         target: &config, origin: origin)
        } else {
            throw Self.unknownSection(path[0], origin: origin)
        }
    }

    // MARK: Flags

    /// `--bind` and `--port` set listener `tcp.default` (added if the file has none); `--log-level` sets
    /// `log.level`; `--api-bind` and `--api-port` set `api.bind` and `api.port`.
    mutating func apply(_ overrides: CommandLineOverrides) throws(ConfigError) {
        let flags: [(flag: String, key: String, raw: RawValue?)] = [
            ("--bind", "bind", overrides.bind.map(RawValue.text)),
            ("--port", "port", overrides.port.map(RawValue.int)),
        ]
        for (flag, key, raw) in flags {
            guard let raw else { continue }
            let index = try listenerIndex(kind: .tcp, name: "default", origin: .flag(flag))
            try Self.set(key, in: ConfigSchema.listenerKeys, section: "listeners.tcp.default", raw: raw,
                         target: &config.listeners[index], origin: .flag(flag))
        }
        let sectionFlags: [(flag: String, section: String, key: String, raw: RawValue?)] = [
            ("--log-level", "log", "level", overrides.logLevel.map(RawValue.text)),
            ("--api-bind", "api", "bind", overrides.apiBind.map(RawValue.text)),
            ("--api-port", "api", "port", overrides.apiPort.map(RawValue.int)),
            ("--name", "node", "name", overrides.name.map(RawValue.text)),
            ("--cookie", "cluster", "cookie", overrides.cookie.map(RawValue.text)),
            ("--cluster-port", "cluster", "port", overrides.clusterPort.map(RawValue.int)),
        ]
        for (flag, sectionName, key, raw) in sectionFlags {
            guard let raw, let section = ConfigSchema.section(named: sectionName) else { continue }
            try Self.set(key, in: section.keys, section: sectionName, raw: raw, target: &config, origin: .flag(flag))
        }
        for path in overrides.plugins {
            guard !path.isEmpty else { throw ConfigError("--plugin: expected the path of a plugin's shared object") }
            config.plugins.append(PluginConfig(path: path))
        }
    }

    // MARK: Checks across keys

    func validate() throws(ConfigError) {
        let enabled = config.listeners.filter(\.enabled)
        guard !enabled.isEmpty else {
            throw ConfigError("no enabled listener: enable one in a [listeners.tcp.NAME] section")
        }
        for listener in config.listeners where !listener.kind.isWebSocket && listener.path != "/mqtt" {
            throw ConfigError("listeners.\(listener.qualifiedName).path: only WebSocket (ws, wss) listeners have a path")
        }
        for listener in enabled where listener.kind.usesTLS {
            _ = try TLSServerContext.make(for: listener)
        }
        var seen: [String: String] = [:]
        for listener in enabled where listener.port != 0 {
            let address = "\(listener.bind):\(listener.port)"
            if let other = seen[address] {
                throw ConfigError("listeners \(other) and \(listener.qualifiedName) both bind \(address)")
            }
            seen[address] = listener.qualifiedName
        }
        try validateCluster(seen)
        if config.api.enabled, config.api.ssl.isConfigured {
            _ = try TLSServerContext.make(config.api.ssl, prefix: TLSListenerSetup.apiTable, whenSet: TLSListenerSetup.apiWhenSet)
        }
        if config.api.enabled, config.api.port != 0, let listener = seen["\(config.api.bind):\(config.api.port)"] {
            throw ConfigError("api.port \(config.api.port): listener \(listener) already binds \(config.api.bind):\(config.api.port)")
        }
    }

    /// The cluster's keys against each other and against the listeners.
    private func validateCluster(_ listenerAddresses: [String: String]) throws(ConfigError) {
        let cluster = config.cluster
        if cluster.downAfterMilliseconds <= cluster.heartbeatIntervalMilliseconds {
            throw ConfigError("cluster.down_after (\(cluster.downAfterMilliseconds) ms) must be longer than cluster.heartbeat_interval (\(cluster.heartbeatIntervalMilliseconds) ms)")
        }
        guard cluster.isEnabled else { return }
        if config.clusterSSL.isConfigured {
            _ = try ClusterTLS(config.clusterSSL)
        }
        guard cluster.port != 0 else { return }
        let bind = cluster.bind ?? String(config.settings.nodeName.split(separator: "@", maxSplits: 1).last ?? "")
        if let listener = listenerAddresses["\(bind):\(cluster.port)"] {
            throw ConfigError("cluster.port \(cluster.port): listener \(listener) already binds \(bind):\(cluster.port)")
        }
        if config.api.enabled, config.api.port == cluster.port, config.api.bind == bind {
            throw ConfigError("cluster.port \(cluster.port): the HTTP API already binds \(bind):\(cluster.port)")
        }
    }

    // MARK: Shared steps

    /// The table of TLS certificate options: `[listeners.ssl.NAME.ssl_options]` (and `wss`),
    /// `[api.ssl_options]`, `[cluster.ssl_options]`.
    static let sslOptionsKey = "ssl_options"

    /// Refuses `ssl_options` on a listener that does not speak TLS.
    private static func requireTLS(_ kind: ListenerKind, section: String, origin: ConfigOrigin) throws(ConfigError) {
        guard !kind.usesTLS else { return }
        throw ConfigError("unknown key '\(section).\(sslOptionsKey)'\(origin.whereNote): only ssl and wss listeners have ssl_options")
    }

    /// Stores `raw` into `target` through the key named `keyName` of `keys`.
    private static func set<Target>(
        _ keyName: String, in keys: [ConfigKey<Target>], section: String, raw: RawValue, target: inout Target,
        origin: ConfigOrigin
    ) throws(ConfigError) {
        let dotted = "\(section).\(keyName)"
        guard let key = keys.first(where: { $0.name == keyName }) else {
            throw ConfigError("unknown key '\(dotted)'\(origin.whereNote); known keys in [\(section)]: "
                + keys.map(\.name).joined(separator: ", "))
        }
        guard key.assign(raw, &target) else {
            throw ConfigError("\(origin.subject(dotted)) = \(raw.display)\(origin.valueNote): expected \(key.expected)")
        }
    }

    /// The index of listener `kind.name`, adding one with defaults when there is none.
    private mutating func listenerIndex(kind: ListenerKind, name: String, origin: ConfigOrigin) throws(ConfigError) -> Int {
        if let index = config.listeners.firstIndex(where: { $0.kind == kind && $0.name.lowercased() == name.lowercased() }) {
            return index
        }
        guard isValidName(name[...]) else {
            throw ConfigError("invalid listener name '\(name)'\(origin.whereNote): expected letters, digits, '_' and '-'")
        }
        config.listeners.append(ListenerConfig(kind: kind, name: name, port: kind.defaultPort))
        return config.listeners.count - 1
    }

    private static func listenerKind(_ name: String, origin: ConfigOrigin) throws(ConfigError) -> ListenerKind {
        guard let kind = ListenerKind(rawValue: name) else {
            throw ConfigError("unknown listener kind '\(name)'\(origin.whereNote); known kinds: "
                + ListenerKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return kind
    }

    private static func unknownSection(_ name: String, origin: ConfigOrigin) -> ConfigError {
        ConfigError("unknown section [\(name)]\(origin.whereNote); known sections: "
            + ConfigSchema.sectionNames.joined(separator: ", "))
    }
}
