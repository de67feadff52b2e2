import StarlingPlugins
import TOMLKit

/// One `[[plugins]]` entry of the config file (or a `--plugin PATH` flag).
public struct PluginConfig: Sendable, Equatable {
    /// The plugin's shared object (relative paths are relative to the working directory).
    public var path: String
    /// The name it is managed by; nil: the file name without `.so`.
    public var name: String?
    /// `options = { key = "value" }`, handed to its init (numbers and booleans as their text).
    public var options: [PluginOption]
    /// A disabled entry is kept in the file but not loaded.
    public var enabled: Bool

    public init(path: String, name: String? = nil, options: [PluginOption] = [], enabled: Bool = true) {
        self.path = path
        self.name = name
        self.options = options
        self.enabled = enabled
    }

    /// The entry as a `[[plugins]]` table that loads back to it.
    func renderTOML() -> [String] {
        var lines = ["[[plugins]]", "path = \(tomlQuoted(path))"]
        if let name { lines.append("name = \(tomlQuoted(name))") }
        lines.append("enabled = \(enabled)")
        let pairs = options.map { "\(tomlQuotedKey($0.key)) = \(tomlQuoted($0.value))" }
        lines.append("options = { \(pairs.joined(separator: ", ")) }")
        return lines
    }

    /// Reads the file's `plugins` node: an array of tables.
    static func entries(_ node: TOMLValueConvertible, origin: ConfigOrigin) throws(ConfigError) -> [PluginConfig] {
        guard let array = node.array else {
            throw ConfigError("plugins\(origin.valueNote): expected an array of tables, each starting with [[plugins]]")
        }
        var entries: [PluginConfig] = []
        for (index, element) in array.enumerated() {
            let at = "plugins[\(index + 1)]"
            guard let table = element.table else {
                throw ConfigError("\(at)\(origin.valueNote): expected a table starting with [[plugins]]")
            }
            entries.append(try entry(table, at: at, origin: origin))
        }
        return entries
    }

    private static func entry(_ table: TOMLTable, at: String, origin: ConfigOrigin) throws(ConfigError) -> PluginConfig {
        var plugin = PluginConfig(path: "")
        for (key, value) in table {
            let raw = ConfigLoader.raw(value)
            switch key {
            case "path":
                guard let path = raw.string, !path.isEmpty else { throw badValue(at, key, raw, origin, "the path of a shared object") }
                plugin.path = path
            case "name":
                guard let name = raw.string, PluginManager.isValidName(name) else {
                    throw badValue(at, key, raw, origin, "a name of letters, digits, '.', '_' and '-'")
                }
                plugin.name = name
            case "enabled":
                guard let enabled = raw.boolean else { throw badValue(at, key, raw, origin, "true or false") }
                plugin.enabled = enabled
            case "options":
                plugin.options = try options(value, at: "\(at).options", origin: origin)
            default:
                throw ConfigError("unknown key '\(at).\(key)'\(origin.whereNote); known keys in [[plugins]]: "
                    + ConfigSchema.pluginKeys.joined(separator: ", "))
            }
        }
        guard !plugin.path.isEmpty else {
            throw ConfigError("\(at)\(origin.valueNote): no path; each [[plugins]] entry names its shared object with path = \"...\"")
        }
        return plugin
    }

    /// `options = { key = value }`: strings as they are, numbers and booleans as their text.
    private static func options(_ node: TOMLValueConvertible, at: String, origin: ConfigOrigin) throws(ConfigError) -> [PluginOption] {
        guard let table = node.table else {
            throw ConfigError("\(at) = \(ConfigLoader.raw(node).display)\(origin.valueNote): expected a table such as { key = \"value\" }")
        }
        var options: [PluginOption] = []
        for (key, value) in table {
            let text: String
            switch ConfigLoader.raw(value) {
            case .string(let string): text = string
            case .int(let int): text = String(int)
            case .double(let double): text = String(double)
            case .bool(let bool): text = String(bool)
            case let other:
                throw ConfigError("\(at).\(key) = \(other.display)\(origin.valueNote): expected a string, a number or a boolean")
            }
            options.append(PluginOption(key: key, value: text))
        }
        return options
    }

    private static func badValue(_ at: String, _ key: String, _ raw: RawValue, _ origin: ConfigOrigin,
                                 _ expected: String) -> ConfigError {
        ConfigError("\(at).\(key) = \(raw.display)\(origin.valueNote): expected \(expected)")
    }
}

/// What a plugin that fails to load at start-up does (`[plugin_loader] on_error`).
public enum PluginErrorPolicy: String, Sendable, Equatable, CaseIterable {
    /// The node does not start (exit status 2), naming the plugin's path and the fault.
    case stop
    /// The node logs the fault and starts without that plugin.
    case skip
}

/// `[plugin_loader]`: how start-up treats the `[[plugins]]` entries.
public struct PluginLoaderSettings: Sendable, Equatable {
    public var onError: PluginErrorPolicy = .stop
    public init() {}
}

/// A TOML key: bare when it is made of letters, digits, `_` and `-`, else quoted.
private func tomlQuotedKey(_ key: String) -> String {
    let bare = !key.isEmpty && key.unicodeScalars.allSatisfy {
        $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
    }
    return bare ? key : tomlQuoted(key)
}
