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
                    try PluginInstance.from(plugin).broker.enqueuePublish(topic: String(cString: topic), payload: bytes,
                                                                         qos: level, retain: retain)
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
            complete: { plugin, ticket, decision, value in
                guard let plugin else { return StarlingStatus.invalid }
                return PluginInstance.from(plugin).complete(ticket: ticket, decision: decision, value: value,
                                                            authData: nil, allowsContinue: false)
            },
            complete_auth: { plugin, ticket, decision, reasonCode, data, length in
                guard let plugin, length <= Int(STARLING_AUTH_DATA_MAX), data != nil || length == 0 else {
                    return StarlingStatus.invalid
                }
                let bytes = length == 0 ? nil : ByteBuffer(bytes: UnsafeRawBufferPointer(start: data, count: length))
                return PluginInstance.from(plugin).complete(ticket: ticket, decision: decision, value: reasonCode,
                                                            authData: bytes, allowsContinue: true)
            })
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
