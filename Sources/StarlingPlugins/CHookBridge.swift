import CStarlingPlugin
import MQTTCore
import NIOCore
import StarlingKernel

/// One C callback registered by a plugin, seen as kernel hooks: each builds the hook's event
/// struct around the request's own bytes (strings through `withCString`, payloads through their
/// buffer's pointer - nothing is copied), calls the plugin and reads its answer.
struct CHookBridge: @unchecked Sendable {  // a C function pointer and the plugin's opaque user data
    let function: starling_hook_fn
    let userData: UnsafeMutableRawPointer?
    let instance: PluginInstance

    var authenticate: AuthenticateHook { { [self] in callAuthenticate($0) } }
    var authorizePublish: AuthorizePublishHook { { [self] in callAuthorizePublish($0, $1) } }
    var authorizeSubscribe: AuthorizeSubscribeHook { { [self] in callAuthorizeSubscribe(&$0) } }
    var clientConnected: ClientConnectedHook { { [self] in callClientConnected($0) } }
    var clientDisconnected: ClientDisconnectedHook { { [self] in callClientDisconnected($0) } }
    var clientConnect: ClientConnectHook { { [self] in callClientConnect(&$0) } }
    var enhancedAuth: EnhancedAuthHook { { [self] in callEnhancedAuth(&$0) } }

    private func callAuthenticate(_ request: AuthenticationRequest) -> HookDecision {
        withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                withBytes(request.password) { password, passwordLength in
                    request.peer.withCString { peer in
                        var event = starling_authenticate_event()
                        event.struct_size = MemoryLayout<starling_authenticate_event>.stride
                        event.client_id = clientId
                        event.client_id_len = clientIdLength
                        event.username = username
                        event.username_len = usernameLength
                        event.password = password
                        event.password_len = passwordLength
                        event.peer_address = peer
                        event.protocol_version = Int32(request.protocolVersion.rawValue)
                        event.reason_code = Int32(ReasonCode.badUserNameOrPassword.rawValue)
                        event.ticket = ticket(request.ticket)
                        let result = event.call(function, userData, certificate: request.transportSecurity)
                        return decision(result, hook: "authenticate", ticket: event.ticket) {
                            Self.connAckRefusal(event.reason_code, instance: instance)
                        }
                    }
                }
            }
        }
    }

    private func callAuthorizePublish(_ request: borrowing PublishAuthorizationRequest, _ publish: borrowing Publish) -> HookDecision {
        var event = starling_authorize_publish_event()
        event.ticket = ticket(request.ticket)
        let result = Self.callAuthorizePublish(function, userData, request, publish, event: &event)
        return decision(result, hook: "authorize_publish", ticket: event.ticket) { .notAuthorized }
    }

    /// Calls the plugin with `event` pointing into the publisher's C strings (made once per
    /// connection), its certificate's strings and the PUBLISH's topic and payload, borrowed.
    /// Static, so that the closures capture plain values and nothing is retained on the way (but
    /// a TLS client's `TransportSecurity`): this runs for every PUBLISH.
    private static func callAuthorizePublish(_ function: starling_hook_fn, _ userData: UnsafeMutableRawPointer?,
                                             _ request: borrowing PublishAuthorizationRequest,
                                             _ publish: borrowing Publish,
                                             event: inout starling_authorize_publish_event) -> Int32 {
        event.struct_size = MemoryLayout<starling_authorize_publish_event>.stride
        event.qos = Int32(publish.qos.rawValue)
        event.retain = publish.retain
        request.withPublisher { publisher in
            event.client_id = publisher.clientIdCString.baseAddress
            event.client_id_len = publisher.clientIdCString.count
            event.username = publisher.usernameCString?.baseAddress
            event.username_len = publisher.usernameCString?.count ?? 0
            event.peer_address = publisher.peerCString.baseAddress
            event.peer_address_len = publisher.peerCString.count
        }
        let security = request.transportSecurity
        return withCStrings(publish.topic, payload: publish.payload) { topic, payload in
            event.topic = topic.pointer
            event.topic_len = topic.count
            event.payload = payload.baseAddress?.assumingMemoryBound(to: UInt8.self)
            event.payload_len = payload.count
            return event.call(function, userData, certificate: security)
        }
    }

    private func callAuthorizeSubscribe(_ request: inout SubscribeAuthorizationRequest) -> HookDecision {
        var event = starling_authorize_subscribe_event()
        let result = withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                withCString(request.filter) { filter, filterLength in
                    request.peer.withCString { peer in
                        event.struct_size = MemoryLayout<starling_authorize_subscribe_event>.stride
                        event.client_id = clientId
                        event.client_id_len = clientIdLength
                        event.username = username
                        event.username_len = usernameLength
                        event.filter = filter
                        event.filter_len = filterLength
                        event.qos = Int32(request.qos.rawValue)
                        event.ticket = ticket(request.ticket)
                        event.peer_address = peer
                        event.peer_address_len = request.peer.utf8.count
                        return event.call(function, userData, certificate: request.transportSecurity)
                    }
                }
            }
        }
        if (0...2).contains(event.qos), let lowered = QoS(rawValue: UInt8(event.qos)), lowered < request.qos {
            request.qos = lowered
        }
        return decision(result, hook: "authorize_subscribe", ticket: event.ticket) { .notAuthorized }
    }

    private func callClientConnected(_ request: ClientConnectedNotice) {
        withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                request.peer.withCString { peer in
                    var event = starling_client_connected_event()
                    event.struct_size = MemoryLayout<starling_client_connected_event>.stride
                    event.client_id = clientId
                    event.client_id_len = clientIdLength
                    event.username = username
                    event.username_len = usernameLength
                    event.peer_address = peer
                    event.protocol_version = Int32(request.protocolVersion.rawValue)
                    event.keep_alive = Int32(clamping: request.keepAlive)
                    event.clean_start = request.cleanStart
                    event.session_present = request.sessionPresent
                    _ = function(&event, userData)
                }
            }
        }
    }

    private func callClientDisconnected(_ request: ClientDisconnectedNotice) {
        withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                var event = starling_client_disconnected_event()
                event.struct_size = MemoryLayout<starling_client_disconnected_event>.stride
                event.client_id = clientId
                event.client_id_len = clientIdLength
                event.username = username
                event.username_len = usernameLength
                switch request.initiator {
                case .client: event.initiator = Int32(STARLING_DISCONNECT_BY_CLIENT.rawValue)
                case .server: event.initiator = Int32(STARLING_DISCONNECT_BY_SERVER.rawValue)
                case .connectionLost: event.initiator = Int32(STARLING_DISCONNECT_CONNECTION_LOST.rawValue)
                }
                event.reason_code = request.initiator == .connectionLost ? 0 : Int32(request.reasonCode.rawValue)
                _ = function(&event, userData)
            }
        }
    }

    // MARK: - Answers

    /// The ticket for an authenticate / authorize event: none for a plugin that does not declare
    /// ABI 1.2 (to a 1.0 plugin 3 is an invalid value, not PENDING, and the field is not in its
    /// struct). client_connect and enhanced_auth exist only since 1.2 and always get theirs.
    private func ticket(_ ticket: PendingTicket?) -> UInt64 {
        instance.image.abiMinor >= 2 ? ticket?.value ?? 0 : 0
    }

    /// A callback's result as a decision; anything but IGNORE, ALLOW, DENY or (with a ticket)
    /// PENDING is logged and denies.
    func decision(_ value: Int32, hook: String, ticket: UInt64, denyCode: () -> ReasonCode) -> HookDecision {
        switch UInt32(bitPattern: value) {
        case STARLING_IGNORE.rawValue: return .ignore
        case STARLING_ALLOW.rawValue: return .allow
        case STARLING_DENY.rawValue: return .deny(denyCode())
        case STARLING_PENDING.rawValue where ticket != 0: return .pending
        case STARLING_PENDING.rawValue where instance.image.abiMinor < 2:
            instance.reportInvalidResult(value, hook: hook, expected: "ALLOW (1), DENY (2) or IGNORE (0) "
                + "(PENDING needs a plugin that declares ABI 1.2 with starling_plugin_abi_minor)")
            return .deny(denyCode())
        default:
            instance.reportInvalidResult(value, hook: hook)
            return .deny(denyCode())
        }
    }

    /// The reason code an authenticate callback set, if CONNACK may carry it as a refusal; else
    /// 0x87 (logged).
    static func connAckRefusal(_ code: Int32, instance: PluginInstance) -> ReasonCode {
        if let reason = ReasonCode(rawValue: UInt8(truncatingIfNeeded: code)), (0x80...0xFF).contains(code),
           Self.connAckRefusals.contains(reason) {
            return reason
        }
        instance.logger.error("plugin \(instance.name) set reason code \(code) on DENY, which CONNACK cannot carry: sent 0x87 (not authorized)")
        return .notAuthorized
    }

    /// The failure reason codes MQTT 5 allows in CONNACK.
    private static let connAckRefusals: Set<ReasonCode> = [
        .unspecifiedError, .malformedPacket, .protocolError, .implementationSpecificError, .unsupportedProtocolVersion,
        .clientIdentifierNotValid, .badUserNameOrPassword, .notAuthorized, .serverUnavailable, .serverBusy, .banned,
        .badAuthenticationMethod, .topicNameInvalid, .packetTooLarge, .quotaExceeded, .payloadFormatInvalid,
        .retainNotSupported, .qosNotSupported, .useAnotherServer, .serverMoved, .connectionRateExceeded,
    ]
}
