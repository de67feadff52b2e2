import CStarlingPlugin
import MQTTCore
import NIOCore
import StarlingKernel

/// The ABI 1.2 hooks that decide a CONNECT: client_connect and enhanced_auth.
extension CHookBridge {
    func callClientConnect(_ request: inout ClientConnectRequest) -> HookDecision {
        withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                withCString(request.authenticationMethod) { method, methodLength in
                    request.peer.withCString { peer in
                        var event = starling_client_connect_event()
                        event.struct_size = MemoryLayout<starling_client_connect_event>.stride
                        event.client_id = clientId
                        event.client_id_len = clientIdLength
                        event.username = username
                        event.username_len = usernameLength
                        event.peer_address = peer
                        event.protocol_version = Int32(request.protocolVersion.rawValue)
                        event.keep_alive = Int32(clamping: request.keepAlive)
                        event.clean_start = request.cleanStart
                        event.has_will = request.hasWill
                        event.auth_method = method
                        event.auth_method_len = methodLength
                        event.reason_code = Int32(ReasonCode.notAuthorized.rawValue)
                        event.ticket = request.ticket?.value ?? 0
                        let result = event.call(function, userData, certificate: request.transportSecurity)
                        return decision(result, hook: "client_connect", ticket: event.ticket) {
                            Self.connAckRefusal(event.reason_code, instance: instance)
                        }
                    }
                }
            }
        }
    }

    func callEnhancedAuth(_ request: inout EnhancedAuthRequest) -> EnhancedAuthDecision {
        // The out buffer holds the largest Authentication Data MQTT carries; enhanced
        // authentication is rare enough for one allocation per call.
        let capacity = Int(STARLING_AUTH_DATA_MAX)
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { out.deallocate() }
        var event = starling_enhanced_auth_event()
        let result = withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                withCString(request.method) { method, methodLength in
                    withBytes(request.data) { data, dataLength in
                        request.peer.withCString { peer in
                            event.struct_size = MemoryLayout<starling_enhanced_auth_event>.stride
                            event.client_id = clientId
                            event.client_id_len = clientIdLength
                            event.username = username
                            event.username_len = usernameLength
                            event.peer_address = peer
                            event.step = Self.step(request.step)
                            event.method = method
                            event.method_len = methodLength
                            event.data = data
                            event.data_len = dataLength
                            event.out_data = out
                            event.out_data_capacity = capacity
                            event.out_data_len = 0
                            event.reason_code = Int32(ReasonCode.notAuthorized.rawValue)
                            event.ticket = request.ticket?.value ?? 0
                            return function(&event, userData)
                        }
                    }
                }
            }
        }
        let outData: () -> ByteBuffer? = {
            event.out_data_len == 0 ? nil : ByteBuffer(bytes: UnsafeBufferPointer(start: out, count: event.out_data_len))
        }
        switch UInt32(bitPattern: result) {
        case STARLING_IGNORE.rawValue: return .ignore
        case STARLING_PENDING.rawValue where event.ticket != 0: return .pending
        case STARLING_DENY.rawValue: return .deny(Self.connAckRefusal(event.reason_code, instance: instance))
        case STARLING_ALLOW.rawValue, STARLING_CONTINUE.rawValue:
            guard event.out_data_len <= capacity else {
                instance.logger.error("plugin \(instance.name) set out_data_len \(event.out_data_len) above out_data_capacity \(capacity) in its enhanced_auth callback: denied")
                return .deny(.notAuthorized)
            }
            return UInt32(bitPattern: result) == STARLING_ALLOW.rawValue ? .allow(outData()) : .continue(outData())
        default:
            instance.reportInvalidResult(result, hook: "enhanced_auth")
            return .deny(.notAuthorized)
        }
    }

    private static func step(_ step: EnhancedAuthStep) -> Int32 {
        switch step {
        case .connect: Int32(STARLING_AUTH_CONNECT.rawValue)
        case .continue: Int32(STARLING_AUTH_CONTINUE.rawValue)
        case .reauthenticate: Int32(STARLING_AUTH_REAUTHENTICATE.rawValue)
        }
    }
}
