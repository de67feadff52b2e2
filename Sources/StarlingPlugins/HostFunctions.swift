import CStarlingPlugin
import Logging
import MQTTCore
import NIOCore
import StarlingKernel
import StarlingPasswords

/// The functions of `starling_host_api`, as C function pointers. Each finds its `PluginInstance`
/// through the `starling_plugin *` handle; none keeps a pointer the plugin passed in.
enum HostFunctions {
    /// The table handed to a plugin's init. `brokerVersion` must outlive the plugin.
    static func table(brokerVersion: UnsafePointer<CChar>) -> starling_host_api {
        starling_host_api(
            struct_size: MemoryLayout<starling_host_api>.stride,
            abi_version: Int32(STARLING_PLUGIN_ABI_VERSION),
            abi_minor: Int32(STARLING_PLUGIN_ABI_MINOR),
            broker_version: brokerVersion,
            register_hook: { plugin, hook, callback, priority, userData in
                guard let plugin, let callback else { return StarlingStatus.invalid }
                return PluginInstance.from(plugin).register(hook: hook, callback: callback, priority: priority,
                                                            userData: userData)
            },
            log: { plugin, level, message in
                guard let plugin else { return }
                let instance = PluginInstance.from(plugin)
                let text = message.map { String(cString: $0) } ?? "(null)"
                instance.logger.log(level: HostFunctions.logLevel(level), "\(text)")
            },
            option: { plugin, name in
                guard let plugin, let name else { return nil }
                return PluginInstance.from(plugin).option(named: name)
            },
            publish: { plugin, topic, payload, length, qos, retain in
                guard let plugin, let topic, (0...2).contains(qos), let level = QoS(rawValue: UInt8(qos)),
                      payload != nil || length == 0 else { return StarlingStatus.invalid }
                let bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: payload, count: length))
                do {
                    let instance = PluginInstance.from(plugin)
                    try instance.broker.enqueuePublish(topic: String(cString: topic), payload: bytes, qos: level,
                                                       retain: retain, origin: instance.owner)
                    return StarlingStatus.ok
                } catch {
                    return StarlingStatus.invalid
                }
            },
            kick: { plugin, clientId in
                guard let plugin, let clientId else { return StarlingStatus.invalid }
                let found = PluginInstance.from(plugin).broker.enqueueKick(clientId: String(cString: clientId))
                return found ? StarlingStatus.ok : StarlingStatus.notFound
            },
            verify_password: { storedHash, password, length in
                guard let storedHash, password != nil || length == 0,
                      let hash = PasswordHash(String(cString: storedHash)) else { return false }
                return hash.verifies(UnsafeRawBufferPointer(start: password, count: length))
            },
            subscribe: { HostFunctions.subscribe($0, $1, $2, $3, $4, $5, $6) },
            unsubscribe: { HostFunctions.unsubscribe($0, $1) },
            counter_add: { HostFunctions.counterAdd($0, $1, $2) },
            gauge_set: { HostFunctions.gaugeSet($0, $1, $2) },
            timer_start: { HostFunctions.timerStart($0, $1, $2, $3, $4, $5) },
            timer_cancel: { HostFunctions.timerCancel($0, $1) },
            export_function: { HostFunctions.exportFunction($0, $1, $2, $3) },
            call_function: { HostFunctions.callFunction($0, $1, $2, $3, $4, $5) })
    }

    /// A `starling_log_level` as swift-log's level; an unknown one logs as error.
    static func logLevel(_ level: Int32) -> Logger.Level {
        switch UInt32(bitPattern: level) {
        case STARLING_LOG_DEBUG.rawValue: .debug
        case STARLING_LOG_INFO.rawValue: .info
        case STARLING_LOG_NOTICE.rawValue: .notice
        case STARLING_LOG_WARNING.rawValue: .warning
        default: .error
        }
    }
}
