// hello-swift: the smallest complete Starling plugin in Swift. Copy it to start your own.
//
// It logs a greeting when it is loaded (option "greeting"), counts the clients that connect and
// logs each one, and logs the count when it is unloaded — as plugins/hello-c does in C.
//
// Build (from the repository root; see README.md):
//   swiftc -emit-library -parse-as-library -module-name HelloSwift -Iinclude \
//          -o plugins/hello-swift/hello-swift.so plugins/hello-swift/HelloSwift.swift
//
// Rules a Swift plugin lives by (../../include/starling/plugin.h, "What a plugin is"):
// - The entry points are the header's C declarations, implemented with `@c @implementation`, which
//   checks each Swift signature against the header. No Swift type crosses the boundary, so the
//   plugin does not depend on the broker's Swift version.
// - Link nothing but the header and the toolchain's shared libraries: the broker never unmaps a
//   Swift image (the runtime keeps pointers into it), so each reload adds a copy of the image, and
//   a package linked in would be copied too.
// - Keep state in an object handed to the broker as user_data, never in globals: during a reload
//   the old and the new copy of this image are loaded side by side.
import CStarlingPlugin
import Synchronization

/// Everything the plugin keeps between calls; owned by the broker's user_data pointer from init
/// until cleanup releases it. Sendable by hand: the two pointers never change and stay valid until
/// cleanup, and the counter is atomic.
private final class Hello: @unchecked Sendable {
    let host: UnsafePointer<starling_host_api>  // the broker's table: keep the pointer, valid until cleanup
    let plugin: OpaquePointer?                  // our handle, for every host call
    let connections = Atomic<Int>(0)            // client_connected runs on several event-loop threads at once

    init(host: UnsafePointer<starling_host_api>, plugin: OpaquePointer?) {
        self.host = host
        self.plugin = plugin
    }

    func log(_ level: starling_log_level, _ message: String) {
        message.withCString { host.pointee.log(plugin, Int32(level.rawValue), $0) }
    }
}

/// STARLING_HOOK_CLIENT_CONNECTED: runs on the client's event-loop thread; must return quickly.
/// A closure that captures nothing is a C function pointer.
private let onClientConnected: starling_hook_fn = { event, userData in
    guard let event, let userData else { return 0 }
    let hello = Unmanaged<Hello>.fromOpaque(userData).takeUnretainedValue()
    let connected = event.assumingMemoryBound(to: starling_client_connected_event.self)
    let count = hello.connections.add(1, ordering: .relaxed).newValue
    // client_id is the broker's memory, valid during this call only: make a String of it now.
    hello.log(STARLING_LOG_INFO, "client \(String(cString: connected.pointee.client_id)) connected (\(count) so far)")
    return 0  // ignored for notifications
}

@c @implementation
public func starling_plugin_version() -> Int32 { Int32(STARLING_PLUGIN_ABI_VERSION) }

@c @implementation
public func starling_plugin_init(_ plugin: OpaquePointer?, _ host: UnsafePointer<starling_host_api>?,
                                 _ options: UnsafePointer<starling_option>?, _ optionCount: Int,
                                 _ userData: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let host, let userData else { return 1 }  // the load fails; the broker logs this value
    let hello = Hello(host: host, plugin: plugin)
    // host->option looks an option up by name; `options` is there to walk them all.
    let greeting = host.pointee.option(plugin, "greeting").map { String(cString: $0) } ?? "hello"
    hello.log(STARLING_LOG_INFO, "\(greeting) from hello-swift (broker \(String(cString: host.pointee.broker_version)))")

    let state = Unmanaged.passRetained(hello).toOpaque()
    let status = host.pointee.register_hook(plugin, Int32(STARLING_HOOK_CLIENT_CONNECTED.rawValue),
                                            onClientConnected, Int32(STARLING_PRIORITY_DEFAULT), state)
    guard status == STARLING_OK.rawValue else {
        Unmanaged<Hello>.fromOpaque(state).release()  // cleanup is not called after a failed init
        return 2
    }
    userData.pointee = state
    return 0
}

@c @implementation
public func starling_plugin_cleanup(_ plugin: OpaquePointer?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let userData else { return 0 }
    // No callback runs any more: the broker waited for them before calling cleanup.
    let hello = Unmanaged<Hello>.fromOpaque(userData).takeRetainedValue()
    hello.log(STARLING_LOG_INFO, "goodbye from hello-swift after \(hello.connections.load(ordering: .relaxed)) connections")
    return 0
}
