/// One option handed to a plugin's init (`options = { key = "value" }` in its config entry).
public struct PluginOption: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A loaded plugin, as `PluginManager.list()` describes it.
public struct PluginInfo: Sendable, Equatable {
    /// The name it is managed by (config `name`, else the file name without `.so`).
    public var name: String
    /// The file it was loaded from.
    public var path: String
    /// The private copy that is mapped (`DATA_DIR/plugins/NAME-N.so`).
    public var loadedCopy: String
    /// The ABI version it was built for.
    public var abiVersion: Int
    /// The minor version it declares (`starling_plugin_abi_minor`; 0 when it declares none).
    public var abiMinor: Int
    /// Hook callbacks it registered.
    public var hookCount: Int
    /// Option keys it was given, in order.
    public var optionKeys: [String]
    /// The hook callbacks it registered, in registration order.
    public var hooks: [PluginHookInfo]
    /// The options it was given, in order.
    public var options: [PluginOption]
    /// The functions it exported (`host->export_function`), sorted by name.
    public var functions: [PluginFunctionInfo]
}

/// One function a plugin exported: its name and its declared signature, e.g. `int64(int64,int64)`.
public struct PluginFunctionInfo: Sendable, Equatable {
    public var name: String
    public var signature: String

    public init(name: String, signature: String) {
        self.name = name
        self.signature = signature
    }
}

/// One hook callback a plugin registered: the hook point and its priority.
public struct PluginHookInfo: Sendable, Equatable {
    /// The hook point, as the header names it without `STARLING_HOOK_`, in lower case: `authorize_publish`.
    public var hook: String
    /// The priority it was registered with (higher runs first).
    public var priority: Int

    public init(hook: String, priority: Int) {
        self.hook = hook
        self.priority = priority
    }
}
