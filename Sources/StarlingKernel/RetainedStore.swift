import MQTTCore
import NIOConcurrencyHelpers
import NIOCore

/// Retained messages by topic. Written only by retained publishes, read on subscribe.
final class RetainedStore: Sendable {
    private let messages = NIOLockedValueBox<[String: Message]>([:])

    /// Stores `message` as the retained message of its topic, or clears the topic when the
    /// payload is empty. The stored copy owns its payload bytes.
    func update(with message: Message) {
        if message.payload.readableBytes == 0 {
            messages.withLockedValue { _ = $0.removeValue(forKey: message.topic) }
        } else {
            let copy = message.retainedCopy()
            messages.withLockedValue { $0[message.topic] = copy }
        }
    }

    /// The unexpired retained messages whose topics match `filter` (expired ones are removed).
    func matching(_ filter: String, now: NIODeadline) -> [Message] {
        messages.withLockedValue { stored in
            var result: [Message] = []
            if !filter.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
                if let message = stored[filter] { result.append(message) }
            } else {
                for (topic, message) in stored where MQTTTopic.matches(filter: filter, topic: topic) {
                    result.append(message)
                }
            }
            let expired = result.filter { $0.isExpired(at: now) }
            for message in expired { stored[message.topic] = nil }
            return expired.isEmpty ? result : result.filter { !$0.isExpired(at: now) }
        }
    }

    func remove(topic: String) -> Bool {
        messages.withLockedValue { $0.removeValue(forKey: topic) != nil }
    }

    var count: Int { messages.withLockedValue { $0.count } }

    var all: [Message] { messages.withLockedValue { Array($0.values) } }
}
