import NIOConcurrencyHelpers
import StarlingFFI

/// The functions plugins export, found by plugin name and function name: the plugin version in
/// force for each name. Shared by every plugin (host->call_function) and the API.
///
/// A call counts itself into the plugin version's owner, so an unload or reload - which takes the
/// version out of the directory first, then deactivates the owner and waits for it to drain -
/// lets calls already running finish and sends later ones elsewhere (or to "not found").
public final class FunctionDirectory: Sendable {
    private let plugins = NIOLockedValueBox([String: PluginInstance]())

    init() {}

    /// Puts `instance`'s functions in force under its name (replacing an older version's).
    func install(_ instance: PluginInstance) {
        plugins.withLockedValue { $0[instance.name] = instance }
    }

    private func find(plugin: String, function: String) throws(FunctionCallError) -> (PluginInstance, FFIFunction) {
        guard let instance = plugins.withLockedValue({ $0[plugin] }) else {
            throw .notFound("no plugin named \(plugin) is loaded")
        }
        guard let exported = instance.services.function(named: function) else {
            let names = instance.services.functions.map(\.name)
            throw .notFound("plugin \(plugin) exports no function named \(function)"
                + (names.isEmpty ? "" : " (it exports: \(names.joined(separator: ", ")))"))
        }
        return (instance, exported)
    }

    /// Takes `instance`'s functions out, unless another version has replaced them already.
    func remove(_ instance: PluginInstance) {
        plugins.withLockedValue { plugins in
            if plugins[instance.name] === instance { plugins[instance.name] = nil }
        }
    }

    /// The signature of `function` of `plugin`; throws `.notFound` saying what is missing.
    public func signature(plugin: String, function: String) throws(FunctionCallError) -> FFISignature {
        try find(plugin: plugin, function: function).1.signature
    }

    /// Calls `function` of `plugin` with `arguments` on the calling thread.
    public func call(plugin: String, function: String, arguments: [FFIValue]) throws(FunctionCallError) -> FFIValue {
        let (instance, exported) = try find(plugin: plugin, function: function)
        guard instance.owner.enter() else { throw .notFound("plugin \(plugin) is being unloaded") }
        defer { instance.owner.leave() }
        do {
            return try exported.call(arguments)
        } catch {
            throw .badArguments("\(plugin).\(function): \(error)")
        }
    }
}

/// Why a call of an exported function failed; `message` says it for the caller.
public enum FunctionCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No such plugin or function.
    case notFound(String)
    /// Wrong argument count or type.
    case badArguments(String)

    public var message: String {
        switch self {
        case .notFound(let text), .badArguments(let text): text
        }
    }

    public var description: String { message }
}
