// A minimal plugin in Swift: the entry points are checked against the header's declarations by
// `@c @implementation`, and the image holds a protocol conformance, so a test can prove that
// unloading it never unmaps what the Swift runtime keeps pointers into.
import CStarlingPlugin

struct Greeting: CustomStringConvertible {
    var count: Int
    var description: String { "hello from swift with \(count) options" }
}

@c @implementation
public func starling_plugin_version() -> Int32 { Int32(STARLING_PLUGIN_ABI_VERSION) }

@c @implementation
public func starling_plugin_init(_ plugin: OpaquePointer?, _ host: UnsafePointer<starling_host_api>?,
                                 _ options: UnsafePointer<starling_option>?, _ count: Int,
                                 _ userData: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let host else { return 1 }
    let greeting: Any = Greeting(count: count)
    let text = (greeting as? CustomStringConvertible)?.description ?? "no conformance"
    text.withCString { host.pointee.log(plugin, Int32(STARLING_LOG_INFO.rawValue), $0) }
    return 0
}

@c @implementation
public func starling_plugin_cleanup(_ plugin: OpaquePointer?, _ userData: UnsafeMutableRawPointer?) -> Int32 { 0 }
