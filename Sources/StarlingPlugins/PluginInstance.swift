import Atomics
import CStarlingPlugin
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StarlingKernel
#if canImport(Glibc)
import Glibc
#endif

/// One initialised plugin image: the object behind the `starling_plugin *` handle the plugin
/// gets. It owns the C memory the plugin may hold on to until cleanup (options, the host table,
/// the broker version string), collects the hooks registered during init, and answers the host
/// functions.
final class PluginInstance: @unchecked Sendable {  // mutable state behind `registration`; C memory freed in deinit
    let name: String
    let image: PluginImage
    let options: [PluginOption]
    let owner: HookOwner
    let broker: Broker
    let logger: Logger
    /// Its subscriptions, timers and exported functions.
    let services: PluginServices
    /// Every plugin's exported functions (host->call_function).
    let functions: FunctionDirectory

    private let cOptions: UnsafeMutableBufferPointer<starling_option>
    private let brokerVersion: UnsafeMutablePointer<CChar>
    private let host: UnsafeMutablePointer<starling_host_api>
    private var userData: UnsafeMutableRawPointer?
    /// Hook callbacks registered by init (set once, before the instance is shared).
    private(set) var hookCount = 0
    /// The hook points and priorities registered by init (set once, before the instance is shared).
    private(set) var registeredHooks: [PluginHookInfo] = []

    /// Hooks registered so far; `open` only while init runs.
    private let registration = NIOLockedValueBox((open: false, hooks: HookChains(), registered: [PluginHookInfo]()))
    /// When an invalid callback result was last logged (uptime nanoseconds), to log at most one a second.
    private let lastInvalidResultLog = ManagedAtomic<Int64>(Int64.min)

    init(name: String, image: PluginImage, options: [PluginOption], owner: HookOwner, broker: Broker,
         functions: FunctionDirectory, brokerVersion: String, logger: Logger) {
        self.name = name
        self.services = PluginServices(owner: owner, broker: broker)
        self.functions = functions
        self.image = image
        self.options = options
        self.owner = owner
        self.broker = broker
        var logger = logger
        logger[metadataKey: "plugin"] = "\(name)"
        self.logger = logger
        cOptions = .allocate(capacity: max(options.count, 1))
        for (index, option) in options.enumerated() {
            cOptions[index] = starling_option(key: strdup(option.key), value: strdup(option.value))
        }
        self.brokerVersion = strdup(brokerVersion)
        host = .allocate(capacity: 1)
        host.initialize(to: HostFunctions.table(brokerVersion: self.brokerVersion))
    }

    deinit {
        for index in options.indices {
            free(UnsafeMutablePointer(mutating: cOptions[index].key))
            free(UnsafeMutablePointer(mutating: cOptions[index].value))
        }
        cOptions.deallocate()
        free(brokerVersion)
        host.deinitialize(count: 1)
        host.deallocate()
    }

    /// The handle the plugin sees.
    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// The instance behind a handle. The plugin must not use a handle after its cleanup returned.
    static func from(_ handle: OpaquePointer) -> PluginInstance {
        Unmanaged<PluginInstance>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    // MARK: - Life cycle

    /// Calls `starling_plugin_init` and returns the hooks it registered (not yet in the chain).
    func initialize() throws(PluginError) -> HookChains {
        registration.withLockedValue { $0.open = true }
        services.setExportsOpen(true)
        var userData: UnsafeMutableRawPointer?
        let status = image.initialize(handle, host, options.isEmpty ? nil : UnsafePointer(cOptions.baseAddress),
                                      options.count, &userData)
        services.setExportsOpen(false)
        let (hooks, registered) = registration.withLockedValue { state -> (HookChains, [PluginHookInfo]) in
            state.open = false
            defer { (state.hooks, state.registered) = (HookChains(), []) }
            return (state.hooks, state.registered)
        }
        guard status == 0 else {
            // What init subscribed or started before failing ends here (the manager drains the owner).
            services.close()
            throw .load(.initFailed, path: image.sourcePath, "starling_plugin_init returned \(status)")
        }
        self.userData = userData
        hookCount = hooks.count
        registeredHooks = registered
        var chains = hooks
        chains.receivers = [owner]  // its subscriptions receive once it is in force
        return chains
    }

    /// Calls `starling_plugin_cleanup`; logs a non-zero result.
    func cleanup() {
        let status = image.cleanup(handle, userData)
        if status != 0 { logger.warning("starling_plugin_cleanup returned \(status)") }
    }

    // MARK: - Host functions

    /// `host->register_hook`: adds a bridged callback to the hooks collected during init.
    func register(hook: Int32, callback: starling_hook_fn, priority: Int32, userData: UnsafeMutableRawPointer?) -> Int32 {
        let bridge = CHookBridge(function: callback, userData: userData, instance: self)
        return registration.withLockedValue { state -> Int32 in
            guard state.open else { return StarlingStatus.state }
            let priority = Int(priority)
            let name: String
            switch UInt32(bitPattern: hook) {
            case STARLING_HOOK_AUTHENTICATE.rawValue:
                state.hooks.authenticate.add(bridge.authenticate, priority: priority, owner: owner)
                name = "authenticate"
            case STARLING_HOOK_AUTHORIZE_PUBLISH.rawValue:
                state.hooks.authorizePublish.add(bridge.authorizePublish, priority: priority, owner: owner)
                name = "authorize_publish"
            case STARLING_HOOK_AUTHORIZE_SUBSCRIBE.rawValue:
                state.hooks.authorizeSubscribe.add(bridge.authorizeSubscribe, priority: priority, owner: owner)
                name = "authorize_subscribe"
            case STARLING_HOOK_CLIENT_CONNECTED.rawValue:
                state.hooks.clientConnected.add(bridge.clientConnected, priority: priority, owner: owner)
                name = "client_connected"
            case STARLING_HOOK_CLIENT_DISCONNECTED.rawValue:
                state.hooks.clientDisconnected.add(bridge.clientDisconnected, priority: priority, owner: owner)
                name = "client_disconnected"
            default:
                guard let added = Self.addMessageHook(hook, bridge, priority: priority, owner: owner, to: &state.hooks) else {
                    return StarlingStatus.unsupported
                }
                name = added
            }
            state.registered.append(PluginHookInfo(hook: name, priority: priority))
            return StarlingStatus.ok
        }
    }

    /// Adds an ABI 1.2 hook (message, subscription, session); its name, or nil for an unknown id.
    private static func addMessageHook(_ hook: Int32, _ bridge: CHookBridge, priority: Int, owner: HookOwner,
                                       to hooks: inout HookChains) -> String? {
        switch UInt32(bitPattern: hook) {
        case STARLING_HOOK_MESSAGE_PUBLISH.rawValue:
            hooks.messagePublish.add(bridge.messagePublish, priority: priority, owner: owner)
            return "message_publish"
        case STARLING_HOOK_MESSAGE_DELIVERED.rawValue:
            hooks.messageDelivered.add(bridge.messageDelivery, priority: priority, owner: owner)
            return "message_delivered"
        case STARLING_HOOK_MESSAGE_ACKED.rawValue:
            hooks.messageAcked.add(bridge.messageDelivery, priority: priority, owner: owner)
            return "message_acked"
        case STARLING_HOOK_MESSAGE_DROPPED.rawValue:
            hooks.messageDropped.add(bridge.messageDropped, priority: priority, owner: owner)
            return "message_dropped"
        case STARLING_HOOK_SUBSCRIBE.rawValue:
            hooks.subscribe.add(bridge.subscription(hook: "subscribe"), priority: priority, owner: owner)
            return "subscribe"
        case STARLING_HOOK_UNSUBSCRIBE.rawValue:
            hooks.unsubscribe.add(bridge.subscription(hook: "unsubscribe"), priority: priority, owner: owner)
            return "unsubscribe"
        case STARLING_HOOK_SESSION_CREATED.rawValue:
            hooks.sessionCreated.add(bridge.session, priority: priority, owner: owner)
            return "session_created"
        case STARLING_HOOK_SESSION_RESUMED.rawValue:
            hooks.sessionResumed.add(bridge.session, priority: priority, owner: owner)
            return "session_resumed"
        case STARLING_HOOK_SESSION_TAKEN_OVER.rawValue:
            hooks.sessionTakenOver.add(bridge.session, priority: priority, owner: owner)
            return "session_taken_over"
        case STARLING_HOOK_SESSION_ENDED.rawValue:
            hooks.sessionEnded.add(bridge.session, priority: priority, owner: owner)
            return "session_ended"
        default:
            return nil
        }
    }

    /// `host->option`: the option's value, owned by this instance, or nil.
    func option(named name: UnsafePointer<CChar>) -> UnsafePointer<CChar>? {
        for index in options.indices where strcmp(cOptions[index].key, name) == 0 {
            return cOptions[index].value
        }
        return nil
    }

    /// Logs a callback result that is not one of `expected`, at most once a second; it counts as
    /// `countedAs` (DENY for decisions, STOP for hook results).
    func reportInvalidResult(_ value: Int32, hook: String, expected: String = "ALLOW (1), DENY (2) or IGNORE (0)",
                             countedAs: String = "DENY") {
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        let last = lastInvalidResultLog.load(ordering: .relaxed)
        guard last == Int64.min || now - last >= 1_000_000_000,
              lastInvalidResultLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        logger.error("plugin \(name) returned \(value) from its \(hook) callback, which is not \(expected): counted as \(countedAs)")
    }
}

/// `starling_status` values as `Int32`, as the host functions return them.
enum StarlingStatus {
    static let ok = Int32(STARLING_OK.rawValue)
    static let invalid = Int32(STARLING_ERR_INVALID.rawValue)
    static let unsupported = Int32(STARLING_ERR_UNSUPPORTED.rawValue)
    static let state = Int32(STARLING_ERR_STATE.rawValue)
    static let notFound = Int32(STARLING_ERR_NOT_FOUND.rawValue)
}
