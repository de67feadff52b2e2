import CStarlingPlugin
import MQTTCore
import NIOCore
import StarlingKernel

/// The ABI 1.2 hooks (message, subscription, session) for one C callback. As for the other hooks,
/// each event points into the broker's own strings and buffers; only the user property array of a
/// message that has user properties is built for the call. Out-fields are copied after the call.
extension CHookBridge {
    var messagePublish: MessagePublishHook { { [self] in callMessagePublish(&$0) } }
    var messageDelivery: MessageDeliveryHook { { [self] in callMessageDelivery($0) } }
    var messageDropped: MessageDroppedHook { { [self] in callMessageDropped($0) } }
    func subscription(hook: String) -> SubscriptionHook { { [self] in callSubscription(&$0, hook: hook) } }
    var session: SessionHook { { [self] in callSession($0) } }

    private func callMessagePublish(_ request: inout MessagePublishRequest) -> HookResult {
        var event = starling_message_publish_event()
        let source = request.source
        var qos = Int32(0), retain = false
        let result = request.withMessage { message in
            qos = Int32(message.qos.rawValue)
            retain = message.retain
            return Self.callMessagePublish(function, userData, message, source: source, event: &event)
        }
        switch UInt32(bitPattern: result) {
        case STARLING_HOOK_OK.rawValue:
            if Self.setsSomething(&event, qos: qos, retain: retain) { applyRewrite(&event, to: &request) }
            return .ok
        case STARLING_HOOK_STOP.rawValue:
            return .stop
        default:
            instance.reportInvalidResult(result, hook: "message_publish", expected: "OK (0) or STOP (1)", countedAs: "STOP")
            return .stop
        }
    }

    /// Calls the plugin with `event` pointing into `message`'s own fields (borrowed for the call:
    /// nothing is copied or retained on the way). Static, so that the closures below capture plain
    /// values, not the bridge (whose plugin instance they would retain); the fields are handed
    /// over one by one, and the closures capture no message, for the same reason (a closure that
    /// reads a captured object's fields retains the object).
    private static func callMessagePublish(_ function: starling_hook_fn, _ userData: UnsafeMutableRawPointer?,
                                           _ message: Message, source: MessageSource,
                                           event: inout starling_message_publish_event) -> Int32 {
        event.struct_size = MemoryLayout<starling_message_publish_event>.stride
        event.source = Int32(source.rawValue)
        event.qos = Int32(message.qos.rawValue)
        event.retain = message.retain
        if !message.properties.isEmpty {
            return withProperties(message.properties, &event) { event in
                callMessagePublish(function, userData, message.publisherId, message.topic, message.publisherUsername,
                                   message.payload, event: &event)
            }
        }
        return callMessagePublish(function, userData, message.publisherId, message.topic, message.publisherUsername,
                                  message.payload, event: &event)
    }

    @inline(__always)
    private static func callMessagePublish(_ function: starling_hook_fn, _ userData: UnsafeMutableRawPointer?,
                                           _ publisherId: String?, _ topic: String, _ username: String?,
                                           _ payload: ByteBuffer, event: inout starling_message_publish_event) -> Int32 {
        withCStrings(publisherId, topic, username, payload: payload) { clientId, topic, username, payload in
            event.client_id = clientId.pointer
            event.client_id_len = clientId.count
            event.topic = topic.pointer
            event.topic_len = topic.count
            event.username = username.pointer
            event.username_len = username.count
            event.payload = payload.baseAddress?.assumingMemoryBound(to: UInt8.self)
            event.payload_len = payload.count
            return function(&event, userData)
        }
    }

    /// Runs `body` with the content type and user properties in `event`.
    private static func withProperties(_ properties: Properties, _ event: inout starling_message_publish_event,
                                       _ body: (inout starling_message_publish_event) -> Int32) -> Int32 {
        withCString(properties.contentType) { contentType, contentTypeLength in
            event.content_type = contentType
            event.content_type_len = contentTypeLength
            return withUserProperties(properties) { pairs, count in
                event.user_properties = pairs
                event.user_property_count = count
                return body(&event)
            }
        }
    }

    /// Whether the callback set any out-field (or changed qos or retain in place): the usual
    /// answer is no, checked here without a call.
    @inline(__always)
    private static func setsSomething(_ event: UnsafePointer<starling_message_publish_event>, qos: Int32,
                                      retain: Bool) -> Bool {
        let event = event.pointee
        return event.new_topic != nil || event.new_payload != nil || event.new_content_type != nil
            || event.replace_user_properties || event.qos != qos || event.retain != retain
    }

    /// Copies what a MESSAGE_PUBLISH callback set in the event's out-fields into `request`.
    private func applyRewrite(_ event: inout starling_message_publish_event, to request: inout MessagePublishRequest) {
        let (qosNow, retainNow) = request.withMessage { ($0.qos, $0.retain) }
        var topic: String?
        var qos: QoS?
        var properties: Properties?
        if let bytes = event.new_topic {
            guard let text = text(bytes, event.new_topic_len) else {
                request.invalidRewrite = "new_topic is not UTF-8 without NUL"
                return
            }
            topic = text
        }
        if event.qos != Int32(qosNow.rawValue) {
            guard (0...2).contains(event.qos), let value = QoS(rawValue: UInt8(event.qos)) else {
                request.invalidRewrite = "qos \(event.qos) is not 0, 1 or 2"
                return
            }
            qos = value
        }
        if let bytes = event.new_content_type {
            guard let contentType = text(bytes, event.new_content_type_len) else {
                request.invalidRewrite = "new_content_type is not UTF-8 without NUL"
                return
            }
            properties = request.properties
            properties!.contentType = contentType.isEmpty ? nil : contentType
        }
        if event.replace_user_properties {
            var pairs: [(String, String)] = []
            for index in 0..<(event.new_user_properties == nil ? 0 : event.new_user_property_count) {
                let property = event.new_user_properties[index]
                guard let name = text(property.name, property.name_len),
                      let value = text(property.value, property.value_len) else {
                    request.invalidRewrite = "new user property \(index) is not UTF-8 without NUL"
                    return
                }
                pairs.append((name, value))
            }
            if properties == nil { properties = request.properties }
            properties!.userProperties = pairs
        }
        let payload = event.new_payload.map {
            ByteBuffer(bytes: UnsafeRawBufferPointer(start: $0, count: event.new_payload_len))
        }
        request.rewrite(topic: topic, payload: payload, qos: qos,
                        retain: event.retain != retainNow ? event.retain : nil, properties: properties)
    }

    private func callMessageDelivery(_ notice: MessageDeliveryNotice) {
        let message = notice.message
        withCString(notice.subscriberId) { clientId, clientIdLength in
            withCString(notice.subscriberUsername) { username, usernameLength in
                withCString(message.publisherId) { publisherId, publisherIdLength in
                  withCString(message.publisherUsername) { publisherUsername, publisherUsernameLength in
                    withCString(message.topic) { topic, topicLength in
                        withPayload(message.payload) { payload, payloadLength in
                            var event = starling_message_delivery_event()
                            event.publisher_username = publisherUsername
                            event.publisher_username_len = publisherUsernameLength
                            event.struct_size = MemoryLayout<starling_message_delivery_event>.stride
                            event.client_id = clientId
                            event.client_id_len = clientIdLength
                            event.username = username
                            event.username_len = usernameLength
                            event.publisher_id = publisherId
                            event.publisher_id_len = publisherIdLength
                            event.topic = topic
                            event.topic_len = topicLength
                            event.payload = payload
                            event.payload_len = payloadLength
                            event.qos = Int32(notice.qos.rawValue)
                            event.retain = notice.retain
                            event.dup = notice.dup
                            event.packet_id = notice.packetId ?? 0
                            _ = function(&event, userData)
                        }
                    }
                  }
                }
            }
        }
    }

    private func callMessageDropped(_ notice: MessageDropNotice) {
        let message = notice.message
        withCString(notice.subscriberId) { clientId, clientIdLength in
            withCString(message.publisherId) { publisherId, publisherIdLength in
              withCString(message.publisherUsername) { publisherUsername, publisherUsernameLength in
                withCString(message.topic) { topic, topicLength in
                    withPayload(message.payload) { payload, payloadLength in
                        var event = starling_message_dropped_event()
                        event.publisher_username = publisherUsername
                        event.publisher_username_len = publisherUsernameLength
                        event.struct_size = MemoryLayout<starling_message_dropped_event>.stride
                        event.reason = Self.dropReason(notice.reason)
                        event.client_id = clientId
                        event.client_id_len = clientIdLength
                        event.publisher_id = publisherId
                        event.publisher_id_len = publisherIdLength
                        event.topic = topic
                        event.topic_len = topicLength
                        event.payload = payload
                        event.payload_len = payloadLength
                        event.qos = Int32(notice.qos.rawValue)
                        _ = function(&event, userData)
                    }
                }
              }
            }
        }
    }

    private func callSubscription(_ request: inout SubscriptionRequest, hook: String) -> HookResult {
        var event = starling_subscription_event()
        let result = withCString(request.clientId) { clientId, clientIdLength in
            withCString(request.username) { username, usernameLength in
                withCString(request.filter) { filter, filterLength in
                    event.struct_size = MemoryLayout<starling_subscription_event>.stride
                    event.client_id = clientId
                    event.client_id_len = clientIdLength
                    event.username = username
                    event.username_len = usernameLength
                    event.filter = filter
                    event.filter_len = filterLength
                    event.qos = Int32(request.qos.rawValue)
                    return function(&event, userData)
                }
            }
        }
        switch UInt32(bitPattern: result) {
        case STARLING_HOOK_OK.rawValue:
            if let bytes = event.new_filter {
                if let filter = text(bytes, event.new_filter_len) {
                    request.filter = filter
                } else {
                    request.invalidRewrite = "new_filter is not UTF-8 without NUL"
                }
            }
            return .ok
        case STARLING_HOOK_STOP.rawValue:
            return .stop
        default:
            instance.reportInvalidResult(result, hook: hook, expected: "OK (0) or STOP (1)", countedAs: "STOP")
            return .stop
        }
    }

    private func callSession(_ notice: SessionNotice) {
        withCString(notice.clientId) { clientId, clientIdLength in
          withCString(notice.username) { username, usernameLength in
            var event = starling_session_event()
            event.username = username
            event.username_len = usernameLength
            event.struct_size = MemoryLayout<starling_session_event>.stride
            event.client_id = clientId
            event.client_id_len = clientIdLength
            event.expiry_interval = notice.expiryInterval
            event.reason = notice.endReason.map { Int32($0.rawValue) } ?? 0
            _ = function(&event, userData)
          }
        }
    }

    /// A `starling_drop_reason`.
    private static func dropReason(_ reason: MessageDropReason) -> Int32 {
        let value: starling_drop_reason
        switch reason {
        case .noSubscribers: value = STARLING_DROP_NO_SUBSCRIBERS
        case .queueFull: value = STARLING_DROP_QUEUE_FULL
        case .expired: value = STARLING_DROP_EXPIRED
        case .qos0Offline: value = STARLING_DROP_QOS0_OFFLINE
        case .tooLarge: value = STARLING_DROP_TOO_LARGE
        case .deniedByHook: value = STARLING_DROP_PUBLISH_HOOK
        case .invalidRewrite: value = STARLING_DROP_INVALID_REWRITE
        case .storeFull: value = STARLING_DROP_STORE_FULL
        }
        return Int32(value.rawValue)
    }
}

/// `count` bytes at `bytes` as a string, or nil when they are not UTF-8 or contain NUL.
private func text(_ bytes: UnsafePointer<CChar>?, _ count: Int) -> String? {
    guard let bytes else { return count == 0 ? "" : nil }
    let buffer = UnsafeRawBufferPointer(start: bytes, count: count).bindMemory(to: UInt8.self)
    guard !buffer.contains(0) else { return nil }
    return String(validating: buffer, as: UTF8.self)
}

/// Runs `body` with the message's user properties as a C array (NULL and 0 when there are none).
/// Only a message with user properties pays for the array and its strings.
private func withUserProperties<R>(_ properties: Properties,
                                   _ body: (UnsafePointer<starling_user_property>?, Int) -> R) -> R {
    guard !properties.isEmpty else { return body(nil, 0) }
    let pairs = properties.userProperties
    guard !pairs.isEmpty else { return body(nil, 0) }
    // One block holds every string, NUL-terminated, followed by nothing else.
    var strings: [UInt8] = []
    var offsets: [(Int, Int, Int, Int)] = []
    for (name, value) in pairs {
        let nameStart = strings.count
        strings.append(contentsOf: name.utf8)
        strings.append(0)
        let valueStart = strings.count
        strings.append(contentsOf: value.utf8)
        strings.append(0)
        offsets.append((nameStart, name.utf8.count, valueStart, value.utf8.count))
    }
    return strings.withUnsafeBufferPointer { block in
        let base = UnsafeRawPointer(block.baseAddress!).assumingMemoryBound(to: CChar.self)
        let array = offsets.map { offset in
            starling_user_property(name: base + offset.0, name_len: offset.1, value: base + offset.2, value_len: offset.3)
        }
        return array.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
    }
}
