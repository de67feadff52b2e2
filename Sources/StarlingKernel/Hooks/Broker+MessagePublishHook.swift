import MQTTCore
import NIOCore

/// The `message_publish` hook chain, run on every message before it is routed.
extension Broker {
    /// What the `message_publish` chain made of a message.
    enum PublishHookOutcome {
        /// Route it as it is (no hook changed it).
        case unchanged
        /// Route this one instead.
        case rewritten(Message)
        /// A hook stopped it or rewrote it into something invalid (counted, and told to
        /// `message_dropped` hooks).
        case dropped
    }

    /// Runs the `message_publish` hooks over `message`.
    func applyPublishHooks(to message: Message, source: MessageSource, context: LoopContext) -> PublishHookOutcome {
        var request = MessagePublishRequest(source: source, message: message)
        var invalid: String?
        // A hook's change the broker finds invalid stops the chain there, like a STOP.
        let stoppedAt = context.withHooks { hooks in hooks.messagePublish.run { hook -> HookResult in
            guard hook(&request) == .ok else { return .stop }
            if let why = request.invalidRewrite {
                invalid = why
            } else if request.topicChanged {
                request.topicChanged = false
                invalid = invalidTopicReason(request.topic, context: context)
            }
            return invalid == nil ? .ok : .stop
        }?.owner }
        if let stoppedAt {
            if let invalid {
                context.logRateLimited(logger, "dropped a message a message_publish hook rewrote: \(invalid)",
                                       metadata: ["plugin": "\(stoppedAt.name)", "topic": "\(message.topic)"])
                context.noteDrop(.invalidRewrite, message, subscriberId: nil, qos: message.qos)
            } else {
                context.noteDrop(.deniedByHook, message, subscriberId: nil, qos: message.qos)
            }
            return .dropped
        }
        guard request.changed else { return .unchanged }
        let rewritten = request.message
        let maxQoS = QoS(rawValue: UInt8(context.settings.mqtt.maxQoS)) ?? .exactlyOnce
        var properties = rewritten.properties
        if !properties.isEmpty { properties.removePerConnectionProperties() }
        return .rewritten(Message(topic: rewritten.topic, payload: rewritten.payload, qos: min(rewritten.qos, maxQoS),
                                  retain: rewritten.retain, properties: properties, publisherId: message.publisherId,
                                  publisherUsername: message.publisherUsername, expiresAt: message.expiresAt,
                                  origin: message.origin))
    }

    /// Why a rewritten topic may not be routed, or nil when it may.
    private func invalidTopicReason(_ topic: String, context: LoopContext) -> String? {
        guard MQTTTopic.isValidName(topic) else { return "topic \"\(topic)\" is not a valid topic name" }
        if topic.utf8.starts(with: "$".utf8), !topic.utf8.starts(with: "$SYS/".utf8) {
            return "topic \"\(topic)\" starts with $"
        }
        let limits = context.settings.mqtt
        guard topic.utf8.count <= limits.maxTopicLength, MQTTTopic.levelCount(topic) <= limits.maxTopicLevels else {
            return "topic exceeds the length or level limit"
        }
        return nil
    }
}
