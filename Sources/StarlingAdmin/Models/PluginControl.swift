/// What the API needs to manage the node's plugins at run time. `StarlingServer` provides it over
/// its `PluginManager`, so that this module does not depend on the plugin loader.
public protocol PluginControl: Sendable {
    /// The loaded plugins, in load order.
    func plugins() async -> [PluginDescription]

    /// Loads the plugin at `path` under `name` (default: the file name without `.so`) with
    /// `options`; its hooks are in force when this returns.
    /// - Throws: `PluginControlError` with the loader's message; nothing has changed then.
    func load(path: String, name: String?, options: [(key: String, value: String)]) async throws(PluginControlError) -> PluginDescription

    /// Unloads plugin `name`: its hooks leave at once; returns once calls inside them have returned.
    func unload(name: String) async throws(PluginControlError)

    /// Loads plugin `name`'s file again and swaps the new version in; on failure the old one stays.
    func reload(name: String) async throws(PluginControlError) -> PluginDescription

    /// Calls `function` exported by plugin `plugin` with `arguments`, each converted to the type
    /// its signature declares (a JSON value of that type, or a string that reads as one), and
    /// returns its result (`null` for a void function).
    /// - Throws: `.notFound` for an unknown plugin or function, `.refused` for arguments that do
    ///   not fit the signature; the message says which.
    func call(plugin: String, function: String, arguments: [JSONValue]) async throws(PluginControlError) -> JSONValue
}

/// A loaded plugin as `GET /api/v1/plugins` shows it.
public struct PluginDescription: Sendable, Codable, Equatable {
    /// The name it is managed by.
    public var name: String
    /// The path it was loaded from, as given.
    public var path: String
    /// The private copy that is mapped.
    public var loadedCopy: String
    /// The plugin ABI version it was built for.
    public var abiVersion: Int
    /// The ABI minor version it declares (`starling_plugin_abi_minor`); 0 when it declares none.
    public var abiMinor: Int
    /// `loaded`.
    public var state: String
    /// The hook callbacks it registered, in registration order.
    public var hooks: [PluginHookDescription]
    /// The options it was given (configuration, shown as given).
    public var options: [String: String]
    /// The functions it exports (`host->export_function`), sorted by name.
    public var functions: [PluginFunctionDescription]

    public init(name: String, path: String, loadedCopy: String, abiVersion: Int, abiMinor: Int, state: String,
                hooks: [PluginHookDescription], options: [String: String], functions: [PluginFunctionDescription] = []) {
        self.name = name
        self.path = path
        self.loadedCopy = loadedCopy
        self.abiVersion = abiVersion
        self.abiMinor = abiMinor
        self.state = state
        self.hooks = hooks
        self.options = options
        self.functions = functions
    }
}

/// One exported function: its name and declared signature (`"int64(int64,int64)"`), callable
/// through `POST /api/v1/plugins/{plugin}/functions/{name}`.
public struct PluginFunctionDescription: Sendable, Codable, Equatable {
    public var name: String
    public var signature: String

    public init(name: String, signature: String) {
        self.name = name
        self.signature = signature
    }
}

/// One registered hook callback: the hook point (`authorize_publish`) and its priority.
public struct PluginHookDescription: Sendable, Codable, Equatable {
    public var hook: String
    public var priority: Int

    public init(hook: String, priority: Int) {
        self.hook = hook
        self.priority = priority
    }
}

/// A plugin operation that failed; nothing changed.
public struct PluginControlError: Error, Sendable, CustomStringConvertible {
    /// Why: no such plugin (404), or the plugin was refused (400).
    public enum Kind: Sendable {
        case notFound
        case refused
    }

    public var kind: Kind
    /// The loader's message, naming the path or name and the fault.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
