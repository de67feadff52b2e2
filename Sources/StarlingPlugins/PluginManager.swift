import Foundation
import Logging
import StarlingKernel

/// Loads, unloads and reloads plugins, and lists them: the control path behind start-up, the HTTP
/// API and `starling ctl plugins`. Operations run one at a time (an actor); hook calls never wait
/// for it.
///
/// - load: copy the file to `DATA_DIR/plugins/NAME-N.so`, `dlopen` it, check the entry points
///   and the ABI version, call init with the options, then put its hooks in the chain.
/// - unload: its hooks leave the chain at once; the call returns after calls already inside them
///   have returned and its open PENDING tickets are answered or timed out, cleanup has run and the
///   image is closed.
/// - reload: the new version is loaded and initialised first; then one chain update replaces the
///   old hooks by the new ones on every event loop (no moment without either), and the old
///   version is drained, cleaned up and closed. If the new version fails, the old one stays.
public actor PluginManager {
    private let broker: Broker
    private let directory: String
    private let brokerVersion: String
    private let logger: Logger
    /// Loaded plugins, in load order.
    private var loaded: [PluginInstance] = []
    /// The functions loaded plugins export, callable from any thread (not through this actor).
    public nonisolated let functions = FunctionDirectory()

    /// - Parameters:
    ///   - dataDirectory: the node's data directory; copies go to its `plugins` folder.
    ///   - brokerVersion: handed to plugins as `host->broker_version`.
    public init(broker: Broker, dataDirectory: String, brokerVersion: String, logger: Logger) {
        self.broker = broker
        self.directory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("plugins").path
        self.brokerVersion = brokerVersion
        self.logger = logger
    }

    /// Loads the plugin at `path` under `name` (default: the file name without `.so`) with
    /// `options`, and puts its hooks in force on every event loop before returning.
    @discardableResult
    public func load(path: String, name: String? = nil, options: [PluginOption] = []) async throws(PluginError) -> PluginInfo {
        let name = name ?? Self.defaultName(for: path)
        try checkNew(name: name, path: path)
        let (instance, hooks) = try await start(path: path, name: name, options: options, owner: broker.hooks.makeOwner(name: name))
        await broker.hooks.update { $0.merge(hooks) }
        functions.install(instance)
        loaded.append(instance)
        logger.info("loaded plugin \(name) from \(path)", metadata: ["hooks": "\(hooks.count)"])
        return Self.info(instance)
    }

    /// Unloads the plugin called `name`: see the type's documentation.
    public func unload(name: String) async throws(PluginError) {
        let instance = try find(name)
        functions.remove(instance)
        instance.owner.deactivate()
        await broker.hooks.update { $0.remove(owner: instance.owner) }
        await retire(instance)
        broker.pluginMetrics.remove(plugin: name)
        loaded.removeAll { $0 === instance }
        logger.info("unloaded plugin \(name)")
    }

    /// Loads the file of plugin `name` again (it may have changed) with the same options and swaps
    /// the new version in for the old. Throws, leaving the old version in force, when the new one
    /// does not load.
    @discardableResult
    public func reload(name: String) async throws(PluginError) -> PluginInfo {
        let old = try find(name)
        let owner = HookOwner(name: name, sequence: old.owner.sequence)
        let (instance, hooks) = try await start(path: old.image.sourcePath, name: name, options: old.options, owner: owner)
        await broker.hooks.update { chains in
            chains.remove(owner: old.owner)
            chains.merge(hooks)
        }
        functions.install(instance)
        // Messages routed to the old version's subscriptions before the swap still reach it.
        await broker.settleDeliveries()
        old.owner.deactivate()
        await retire(old)
        loaded[loaded.firstIndex { $0 === old }!] = instance
        logger.info("reloaded plugin \(name) from \(old.image.sourcePath)", metadata: ["hooks": "\(hooks.count)"])
        return Self.info(instance)
    }

    /// The loaded plugins, in load order.
    public func list() -> [PluginInfo] {
        loaded.map { Self.info($0) }
    }

    /// Unloads every plugin, the last loaded first (at shutdown).
    public func unloadAll() async {
        for instance in loaded.reversed() {
            try? await unload(name: instance.name)
        }
    }

    // MARK: - Steps

    /// Opens and initialises one version; its hooks are returned, not yet in the chain.
    private func start(path: String, name: String, options: [PluginOption],
                       owner: HookOwner) async throws(PluginError) -> (PluginInstance, HookChains) {
        let image = try PluginImage.open(path: path, name: name, directory: directory)
        let instance = PluginInstance(name: name, image: image, options: options, owner: owner, broker: broker,
                                      functions: functions, brokerVersion: brokerVersion, logger: logger)
        do {
            return (instance, try instance.initialize())
        } catch {
            // A timer started by the failed init may be firing right now.
            owner.deactivate()
            await owner.waitUntilIdle()
            if !loaded.contains(where: { $0.name == name }) { broker.pluginMetrics.remove(plugin: name) }
            image.close()
            throw error
        }
    }

    /// Ends the plugin's subscriptions and timers, waits for calls still inside its hooks,
    /// callbacks and functions (which nothing reaches any more) and for its open PENDING tickets
    /// (answered, or denied at pending_timeout), then runs its cleanup and closes its image.
    private func retire(_ instance: PluginInstance) async {
        instance.services.close()
        // Hook calls on the event loops are not counted: once every loop has passed this point
        // none is inside the (deactivated) owner's hooks, including chains resumed after a ticket.
        await broker.hooks.barrier()
        let inFlight = instance.owner.callsInFlight
        if inFlight > 0 {
            logger.info("plugin \(instance.name): waiting for \(inFlight) calls in flight or open tickets before cleanup")
        }
        await instance.owner.waitUntilIdle()
        instance.cleanup()
        instance.image.close()
    }

    private func find(_ name: String) throws(PluginError) -> PluginInstance {
        guard let instance = loaded.first(where: { $0.name == name }) else {
            let names = loaded.map(\.name)
            throw PluginError(.notLoaded, "no plugin named \(name) is loaded"
                + (names.isEmpty ? "" : " (loaded: \(names.joined(separator: ", ")))"))
        }
        return instance
    }

    private func checkNew(name: String, path: String) throws(PluginError) {
        guard Self.isValidName(name) else {
            throw .load(.invalidName, path: path, "invalid plugin name '\(name)': use letters, digits, '.', '_' and '-'")
        }
        if let other = loaded.first(where: { $0.name == name }) {
            throw .load(.invalidName, path: path,
                        "a plugin named \(name) is already loaded (from \(other.image.sourcePath)); give this one another name")
        }
    }

    /// The file name without its directory and a final `.so`.
    public static func defaultName(for path: String) -> String {
        let file = URL(fileURLWithPath: path).lastPathComponent
        return file.hasSuffix(".so") ? String(file.dropLast(3)) : file
    }

    /// Whether `name` may name a plugin: letters, digits, `.`, `_` and `-`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
        }
    }

    private static func info(_ instance: PluginInstance) -> PluginInfo {
        PluginInfo(name: instance.name, path: instance.image.sourcePath, loadedCopy: instance.image.copyPath,
                   abiVersion: Int(instance.image.abiVersion), abiMinor: Int(instance.image.abiMinor), hookCount: instance.hookCount, optionKeys: instance.options.map(\.key),
                   hooks: instance.registeredHooks, options: instance.options,
                   functions: instance.services.functions.map { PluginFunctionInfo(name: $0.name, signature: $0.signature) })
    }
}
