import StarlingAdmin

/// What a reload may change while the node runs, and how two configurations differ.
extension ServerConfig {
    /// Whether a change of the setting `key` (dotted, as in the file) takes effect without a
    /// restart: every `mqtt.*` and `session.*` key, `authentication.no_match`,
    /// `authorization.no_match`, `node.max_connections`, `plugin_loader.pending_timeout` and
    /// `log.level`. Listeners, `node.name`, `node.event_loops`, `node.data_dir`, `api.*`, the other
    /// `plugin_loader.*` keys and the `[[plugins]]` list need a restart.
    public static func isLive(key: String) -> Bool {
        key.hasPrefix("mqtt.") || key.hasPrefix("session.") || key.hasPrefix("authentication.")
            || key.hasPrefix("authorization.") || key == "node.max_connections" || key == "log.level"
            || key == "plugin_loader.pending_timeout"
    }

    /// This configuration with the live settings (see ``isLive(key:)``) taken from `other`.
    public func applyingLiveSettings(of other: ServerConfig) -> ServerConfig {
        var result = self
        result.settings.mqtt = other.settings.mqtt
        result.settings.session = other.settings.session
        result.settings.sharedSubscription = other.settings.sharedSubscription
        result.settings.allowAnonymous = other.settings.allowAnonymous
        result.settings.maxConnections = other.settings.maxConnections
        result.settings.authentication = other.settings.authentication
        result.settings.authorization = other.settings.authorization
        result.settings.pendingTimeout = other.settings.pendingTimeout
        result.logLevel = other.logLevel
        return result
    }

    /// Every setting whose value differs in `other`, by dotted key, in the order the file documents
    /// them. A listener present on one side only is one change named `listeners.KIND.NAME`; any
    /// difference in the `[[plugins]]` entries is one change named `plugins`.
    public func changes(to other: ServerConfig) -> [SettingChange] {
        var changes: [SettingChange] = []
        for section in ConfigSchema.sections {
            for key in section.keys where key.aliasOf == nil && key.render(self) != key.render(other) {
                changes.append(SettingChange(key: "\(section.name).\(key.name)", old: key.reported(self), new: key.reported(other)))
            }
            if let sslOptions = section.sslOptions {
                changes += Self.sslChanges(self[keyPath: sslOptions], other[keyPath: sslOptions], table: "\(section.name).ssl_options")
            }
        }
        var names = listeners.map(\.qualifiedName)
        names += other.listeners.map(\.qualifiedName).filter { !names.contains($0) }
        for name in names {
            let old = listeners.first { $0.qualifiedName == name }
            let new = other.listeners.first { $0.qualifiedName == name }
            guard let old, let new else {
                changes.append(SettingChange(key: "listeners.\(name)", old: old.map(Self.inlineTable), new: new.map(Self.inlineTable)))
                continue
            }
            for key in ConfigSchema.listenerKeys where key.render(old) != key.render(new) {
                changes.append(SettingChange(key: "listeners.\(name).\(key.name)", old: key.render(old), new: key.render(new)))
            }
            changes += Self.sslChanges(old.ssl, new.ssl, table: "listeners.\(name).ssl_options")
        }
        if plugins != other.plugins {
            changes.append(SettingChange(key: "plugins", old: Self.pluginList(plugins), new: Self.pluginList(other.plugins)))
        }
        return changes
    }

    /// The keys of one `ssl_options` table whose values differ.
    private static func sslChanges(_ old: SSLOptions, _ new: SSLOptions, table: String) -> [SettingChange] {
        ConfigSchema.sslOptionKeys.filter { $0.render(old) != $0.render(new) }.map { key in
            SettingChange(key: "\(table).\(key.name)", old: key.reported(old), new: key.reported(new))
        }
    }

    /// The `[[plugins]]` entries as a TOML array of their paths, e.g. `["a.so", "b.so"]`.
    private static func pluginList(_ plugins: [PluginConfig]) -> String {
        "[" + plugins.map { tomlQuoted($0.path) }.joined(separator: ", ") + "]"
    }

    /// A listener as a TOML inline table: `{ enabled = true, bind = "127.0.0.1", port = 1883, … }`.
    private static func inlineTable(_ listener: ListenerConfig) -> String {
        let pairs = ConfigSchema.listenerKeys.compactMap { key in key.render(listener).map { "\(key.name) = \($0)" } }
        return "{ " + pairs.joined(separator: ", ") + " }"
    }
}

extension ConfigKey {
    /// The value as a change report shows it: rendered, or "(hidden)" for a secret; nil when unset.
    func reported(_ target: Target) -> String? {
        secret ? render(target).map { _ in "(hidden)" } : render(target)
    }
}
