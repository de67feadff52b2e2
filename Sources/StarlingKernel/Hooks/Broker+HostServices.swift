import MQTTCore
import NIOCore

/// What the broker does on behalf of plugins: callable from any thread, without waiting (a
/// plugin may call them from inside a hook callback, on an event loop).
extension Broker {
    /// Publishes a message as the broker (no publisher client id, no authorization hooks), routed
    /// shortly after on the calling thread's event loop (or the first one): calls from one thread
    /// keep their order. Throws `ManagementError.invalidTopic` for a topic that is not a valid
    /// name, or that starts with `$` other than `$SYS/`. `origin` is the publishing plugin (its
    /// own subscriptions skip the message unless they ask for it).
    public func enqueuePublish(topic: String, payload: ByteBuffer, qos: QoS, retain: Bool,
                               origin: HookOwner? = nil) throws(ManagementError) {
        guard MQTTTopic.isValidName(topic), !topic.utf8.starts(with: "$".utf8) || topic.utf8.starts(with: "$SYS/".utf8) else {
            throw ManagementError.invalidTopic(topic)
        }
        let context = contexts.first { $0.loop.inEventLoop } ?? contexts[0]
        let message = Message(publish: Publish(topic: topic, payload: payload, qos: qos, retain: retain),
                              topic: topic, publisherId: nil, now: .now(), origin: origin)
        // Always a task of its own: a publish never runs inside another one on the same loop.
        context.loop.execute { self.publish(message, from: context, source: .plugin) }
    }

    /// Disconnects a client (5.0: DISCONNECT 0x98) and discards its session, shortly after the
    /// call. False when no session has this client id.
    public func enqueueKick(clientId: String) -> Bool {
        guard let session = registry.session(for: clientId) else { return false }
        session.loop.execute { session.kick() }
        return true
    }
}
