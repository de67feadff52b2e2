import MQTTCore
import NIOCore

extension Broker {
    /// Publishes a message the broker makes about itself (`$SYS/…`): QoS 0, no publisher id,
    /// routed like any other message so that only matching subscriptions get it (`#` and `+` at
    /// the first level never match `$SYS`). `payload` is made only when a subscription matches or
    /// the message is retained; a message nobody receives is not counted as dropped. Runs on
    /// `context.loop`; the match bypasses the loop's route cache (event topics are seldom reused).
    func publishSystem(topic: String, retain: Bool = false, from context: LoopContext, payload: () -> String) {
        var deliveries: [Delivery] = []
        router.match(topic: topic, publisherId: nil, into: &deliveries)
        guard retain || !deliveries.isEmpty else { return }
        let message = Message(topic: topic, payload: ByteBuffer(string: payload()), qos: .atMostOnce,
                              retain: retain, publisherId: nil)
        if retain, context.settings.mqtt.retainAvailable {
            retained.update(with: message)
        }
        for delivery in deliveries { context.deliver(message, delivery) }
    }
}
