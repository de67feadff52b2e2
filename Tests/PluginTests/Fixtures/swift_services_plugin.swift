// A Swift plugin that exports functions of every argument type for calls through libffi. The
// entry points are checked against the header by `@c @implementation`; the exported functions
// are `@convention(c)` closures, stored as the header's generic `starling_function`.
import CStarlingPlugin
#if canImport(Glibc)
import Glibc
#endif

private let add: @convention(c) (Int64, Int64) -> Int64 = { $0 &+ $1 }
private let scale: @convention(c) (Double, Double) -> Double = { $0 * $1 }
private let negate: @convention(c) (Bool) -> Bool = { !$0 }
private let greet: @convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? = { name in
    strdup("hi from swift, \(name.map { String(cString: $0) } ?? "nobody")")
}
private let mixed: @convention(c) (Int64, Double, Bool, UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? = { i, d, b, s in
    strdup("swift i=\(i) d=\(d) b=\(b) s=\(s.map { String(cString: $0) } ?? "")")
}

private func export(_ host: UnsafePointer<starling_host_api>, _ plugin: OpaquePointer?, _ name: String, _ signature: String,
                    _ function: starling_function) -> Int32 {
    host.pointee.export_function(plugin, name, signature, function)
}

@c @implementation
public func starling_plugin_version() -> Int32 { Int32(STARLING_PLUGIN_ABI_VERSION) }

@c @implementation
public func starling_plugin_init(_ plugin: OpaquePointer?, _ host: UnsafePointer<starling_host_api>?,
                                 _ options: UnsafePointer<starling_option>?, _ count: Int,
                                 _ userData: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let host else { return 1 }
    var status = export(host, plugin, "add", "int64(int64,int64)", unsafeBitCast(add, to: starling_function.self))
    status |= export(host, plugin, "scale", "double(double,double)", unsafeBitCast(scale, to: starling_function.self))
    status |= export(host, plugin, "negate", "bool(bool)", unsafeBitCast(negate, to: starling_function.self))
    status |= export(host, plugin, "greet", "string(string)", unsafeBitCast(greet, to: starling_function.self))
    status |= export(host, plugin, "mixed", "string(int64,double,bool,string)", unsafeBitCast(mixed, to: starling_function.self))
    "swift exported -> \(status)".withCString { host.pointee.log(plugin, Int32(STARLING_LOG_INFO.rawValue), $0) }
    return status == 0 ? 0 : 1
}

@c @implementation
public func starling_plugin_cleanup(_ plugin: OpaquePointer?, _ userData: UnsafeMutableRawPointer?) -> Int32 { 0 }
