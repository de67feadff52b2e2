import StarlingAdmin
import StarlingFFI
import StarlingPlugins

/// The API's plugin control over the node's `PluginManager`.
struct PluginController: PluginControl {
    let manager: PluginManager

    func plugins() async -> [PluginDescription] {
        await manager.list().map(Self.describe)
    }

    func load(path: String, name: String?, options: [(key: String, value: String)]) async throws(PluginControlError) -> PluginDescription {
        let options = options.map { PluginOption(key: $0.key, value: $0.value) }
        return Self.describe(try await run { () throws(PluginError) in try await manager.load(path: path, name: name, options: options) })
    }

    func unload(name: String) async throws(PluginControlError) {
        try await run { () throws(PluginError) in try await manager.unload(name: name) }
    }

    func reload(name: String) async throws(PluginControlError) -> PluginDescription {
        Self.describe(try await run { () throws(PluginError) in try await manager.reload(name: name) })
    }

    func call(plugin: String, function: String, arguments: [JSONValue]) async throws(PluginControlError) -> JSONValue {
        let signature: FFISignature
        do {
            signature = try manager.functions.signature(plugin: plugin, function: function)
        } catch {
            throw PluginControlError(.notFound, error.message)
        }
        let values = try FunctionArguments.values(arguments, for: signature)
        do {
            return FunctionArguments.json(try manager.functions.call(plugin: plugin, function: function, arguments: values))
        } catch {
            switch error {
            case .notFound(let message): throw PluginControlError(.notFound, message)
            case .badArguments(let message): throw PluginControlError(.refused, message)
            }
        }
    }

    /// Runs a manager operation, its `PluginError` turned into the API's terms.
    private func run<Result>(_ operation: () async throws(PluginError) -> Result) async throws(PluginControlError) -> Result {
        do {
            return try await operation()
        } catch {
            throw PluginControlError(error.kind == .notLoaded ? .notFound : .refused, error.message)
        }
    }

    static func describe(_ info: PluginInfo) -> PluginDescription {
        PluginDescription(name: info.name, path: info.path, loadedCopy: info.loadedCopy, abiVersion: info.abiVersion,
                          abiMinor: info.abiMinor,
                          state: "loaded", hooks: info.hooks.map { PluginHookDescription(hook: $0.hook, priority: $0.priority) },
                          options: Dictionary(info.options.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
                          functions: info.functions.map { PluginFunctionDescription(name: $0.name, signature: $0.signature) })
    }
}
