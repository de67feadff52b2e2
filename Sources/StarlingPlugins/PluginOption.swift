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
    /// Hook callbacks it registered.
    public var hookCount: Int
    /// Option keys it was given, in order.
    public var optionKeys: [String]
}
