// The entry points of the header, checked against its declarations by @c @implementation.
import CStarlingPlugin
import Foundation

@c @implementation
public func starling_plugin_version() -> Int32 { Int32(STARLING_PLUGIN_ABI_VERSION) }

/// Declares ABI 1.2: the authenticate and authorize hooks answer PENDING.
@c @implementation
public func starling_plugin_abi_minor() -> Int32 { Int32(STARLING_PLUGIN_ABI_MINOR) }

@c @implementation
public func starling_plugin_init(_ plugin: OpaquePointer?, _ host: UnsafePointer<starling_host_api>?,
                                 _ options: UnsafePointer<starling_option>?, _ optionCount: Int,
                                 _ userData: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let host, let userData else { return 1 }
    let fail = { (message: String) -> Int32 in
        message.withCString { host.pointee.log(plugin, Int32(STARLING_LOG_ERROR.rawValue), $0) }
        return 1
    }
    guard AuthHTTP.hostCanComplete(host) else {
        return fail("this broker cannot complete a decision later (it serves ABI 1.\(host.pointee.abi_minor); 1.2 needed)")
    }
    let pairs = (0..<optionCount).compactMap { index -> (key: String, value: String)? in
        guard let option = options?[index], let key = option.key, let value = option.value else { return nil }
        return (String(cString: key), String(cString: value))
    }
    let parsed: AuthHTTPOptions
    do {
        parsed = try AuthHTTPOptions.parse(pairs)
    } catch {
        return fail(error.message)
    }

    let auth = AuthHTTP(host: host, plugin: plugin, options: parsed)
    let state = Unmanaged.passRetained(auth).toOpaque()
    var hooks: [(starling_hook, starling_hook_fn)] = []
    if parsed.authURL != nil { hooks.append((STARLING_HOOK_AUTHENTICATE, onAuthenticate)) }
    if parsed.aclURL != nil {
        hooks += [(STARLING_HOOK_AUTHORIZE_PUBLISH, onAuthorizePublish), (STARLING_HOOK_AUTHORIZE_SUBSCRIBE, onAuthorizeSubscribe)]
    }
    for (hook, callback) in hooks {
        let status = host.pointee.register_hook(plugin, Int32(hook.rawValue), callback, parsed.priority, state)
        guard status == STARLING_OK.rawValue else {
            _ = auth.asker.close(waitingUpTo: .seconds(1))  // cleanup is not called after a failed init
            Unmanaged<AuthHTTP>.fromOpaque(state).release()
            return fail("cannot register hook \(hook.rawValue): \(status)")
        }
    }
    auth.log(STARLING_LOG_INFO, "asking \([parsed.authURL.map { "\($0) (connect)" }, parsed.aclURL.map { "\($0) (publish, subscribe)" }].compactMap { $0 }.joined(separator: " and ")), timeout \(parsed.timeoutMilliseconds) ms, on_error = \(parsed.onError.name)")
    userData.pointee = state
    return 0
}

@c @implementation
public func starling_plugin_cleanup(_ plugin: OpaquePointer?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let userData else { return 0 }
    let auth = Unmanaged<AuthHTTP>.fromOpaque(userData).takeRetainedValue()
    // The broker waited for our open tickets; cancel whatever still runs and wait for its handler,
    // so no thread of ours calls the host after this returns.
    let drained = auth.asker.close(waitingUpTo: .milliseconds(auth.options.timeoutMilliseconds + 2000))
    auth.log(drained ? STARLING_LOG_INFO : STARLING_LOG_WARNING,
             drained ? "stopped" : "stopped, but some HTTP requests did not finish")
    return drained ? 0 : 1
}
