import CStarlingPlugin
import MQTTCore
import StarlingFFI
import StarlingKernel
#if canImport(Glibc)
import Glibc
#endif

/// The ABI 1.2 service functions of `starling_host_api`: subscriptions, metrics, timers and
/// exported functions. Each checks its arguments, then asks the plugin's `PluginServices`.
extension HostFunctions {
    static func subscribe(_ plugin: OpaquePointer?, _ filter: UnsafePointer<CChar>?, _ qos: Int32, _ flags: UInt32,
                          _ callback: starling_message_fn?, _ userData: UnsafeMutableRawPointer?,
                          _ id: UnsafeMutablePointer<UInt64>?) -> Int32 {
        guard let plugin, let filter, let callback, let id, let level = qosLevel(qos) else { return StarlingStatus.invalid }
        let receiveOwn = flags & UInt32(STARLING_SUBSCRIBE_OWN_MESSAGES.rawValue) != 0
        return answer(PluginInstance.from(plugin).services.subscribe(filter: String(cString: filter), qos: level, receiveOwn: receiveOwn,
                                                                     callback: CCallback(function: callback, userData: userData)), id)
    }

    static func unsubscribe(_ plugin: OpaquePointer?, _ id: UInt64) -> Int32 {
        guard let plugin else { return StarlingStatus.invalid }
        return PluginInstance.from(plugin).services.unsubscribe(id) ? StarlingStatus.ok : StarlingStatus.notFound
    }

    static func counterAdd(_ plugin: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ delta: Int64) -> Int32 {
        guard let plugin, let name else { return StarlingStatus.invalid }
        let instance = PluginInstance.from(plugin)
        do {
            try instance.broker.pluginMetrics.add(plugin: instance.name, name: String(cString: name), delta: delta)
            return StarlingStatus.ok
        } catch {
            return error == .invalidName || delta < 0 ? StarlingStatus.invalid : StarlingStatus.state
        }
    }

    static func gaugeSet(_ plugin: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ value: Int64) -> Int32 {
        guard let plugin, let name else { return StarlingStatus.invalid }
        let instance = PluginInstance.from(plugin)
        do {
            try instance.broker.pluginMetrics.set(plugin: instance.name, name: String(cString: name), value: value)
            return StarlingStatus.ok
        } catch {
            return error == .invalidName ? StarlingStatus.invalid : StarlingStatus.state
        }
    }

    static func timerStart(_ plugin: OpaquePointer?, _ delay: UInt64, _ period: UInt64, _ callback: starling_timer_fn?,
                           _ userData: UnsafeMutableRawPointer?, _ id: UnsafeMutablePointer<UInt64>?) -> Int32 {
        guard let plugin, let callback, let id else { return StarlingStatus.invalid }
        return answer(PluginInstance.from(plugin).services.startTimer(delay: delay, repeat: period,
                                                                      callback: CCallback(function: callback, userData: userData)), id)
    }

    static func timerCancel(_ plugin: OpaquePointer?, _ id: UInt64) -> Int32 {
        guard let plugin else { return StarlingStatus.invalid }
        return PluginInstance.from(plugin).services.cancelTimer(id) ? StarlingStatus.ok : StarlingStatus.notFound
    }

    static func exportFunction(_ plugin: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ signature: UnsafePointer<CChar>?,
                               _ function: starling_function?) -> Int32 {
        guard let plugin, let name, let signature, let function else { return StarlingStatus.invalid }
        let instance = PluginInstance.from(plugin)
        let functionName = String(cString: name)
        guard isValidFunctionName(functionName) else {
            instance.logger.error("export_function: invalid name '\(functionName)': use [A-Za-z_][A-Za-z0-9_]*, at most 100 characters")
            return StarlingStatus.invalid
        }
        let prepared: FFIFunction
        do {
            prepared = try FFIFunction(function, signature: FFISignature(parsing: String(cString: signature)))
        } catch {
            instance.logger.error("export_function \(functionName): \(error)")
            return StarlingStatus.invalid
        }
        switch instance.services.export(name: functionName, function: prepared) {
        case nil: return StarlingStatus.ok
        case .invalid?:
            instance.logger.error("export_function: \(functionName) is already exported by this plugin")
            return StarlingStatus.invalid
        case let failure?: return failure.status
        }
    }

    static func callFunction(_ plugin: OpaquePointer?, _ target: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?,
                             _ args: UnsafePointer<starling_value>?, _ count: Int,
                             _ result: UnsafeMutablePointer<starling_value>?) -> Int32 {
        guard let plugin, let target, let name, let result, args != nil || count == 0 else { return StarlingStatus.invalid }
        let instance = PluginInstance.from(plugin)
        var arguments: [FFIValue] = []
        for index in 0..<count {
            guard let value = FFIValue(args![index]) else {
                instance.logger.debug("call_function: argument \(index + 1) has an unknown type tag \(args![index].type)")
                return StarlingStatus.invalid
            }
            arguments.append(value)
        }
        do {
            let value = try instance.functions.call(plugin: String(cString: target), function: String(cString: name),
                                                    arguments: arguments)
            result.pointee = starling_value(value)
            return StarlingStatus.ok
        } catch {
            instance.logger.debug("call_function: \(error)")
            switch error {
            case .notFound: return StarlingStatus.notFound
            case .badArguments: return StarlingStatus.invalid
            }
        }
    }

    /// A new id stored for the plugin (STARLING_OK), or the failure's status.
    private static func answer(_ result: Result<UInt64, ServiceFailure>, _ id: UnsafeMutablePointer<UInt64>) -> Int32 {
        switch result {
        case .success(let value):
            id.pointee = value
            return StarlingStatus.ok
        case .failure(let failure):
            return failure.status
        }
    }

    /// A QoS in 0...2, or nil.
    private static func qosLevel(_ value: Int32) -> QoS? {
        (0...2).contains(value) ? QoS(rawValue: UInt8(value)) : nil
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`, 1 to 100 characters.
    static func isValidFunctionName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 100,
              first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}

extension FFIValue {
    /// A `starling_value` as a value; nil for an unknown type tag. Strings are copied.
    init?(_ value: starling_value) {
        switch UInt32(bitPattern: value.type) {
        case STARLING_VALUE_INT64.rawValue: self = .int64(value.value.int64)
        case STARLING_VALUE_DOUBLE.rawValue: self = .double(value.value.real)
        case STARLING_VALUE_BOOL.rawValue: self = .bool(value.value.boolean)
        case STARLING_VALUE_STRING.rawValue: self = .string(value.value.string.map { String(cString: $0) } ?? "")
        case STARLING_VALUE_VOID.rawValue: self = .void
        default: return nil
        }
    }
}

extension starling_value {
    /// A result for the plugin; a string is strdup'ed (the caller frees it).
    init(_ value: FFIValue) {
        self.init()
        switch value {
        case .int64(let number):
            type = Int32(STARLING_VALUE_INT64.rawValue)
            self.value.int64 = number
        case .double(let number):
            type = Int32(STARLING_VALUE_DOUBLE.rawValue)
            self.value.real = number
        case .bool(let flag):
            type = Int32(STARLING_VALUE_BOOL.rawValue)
            self.value.boolean = flag
        case .string(let text):
            type = Int32(STARLING_VALUE_STRING.rawValue)
            self.value.string = UnsafePointer(strdup(text))
        case .void:
            type = Int32(STARLING_VALUE_VOID.rawValue)
        }
    }
}
