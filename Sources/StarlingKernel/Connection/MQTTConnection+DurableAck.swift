import MQTTCore
import NIOCore

/// Acknowledgements under `storage.durability = "sync"`: a PUBACK, PUBREC, PUBREL, PUBCOMP,
/// SUBACK or UNSUBACK goes
/// out only once what its packet changed in the durable store is committed (its copies for the
/// stored sessions it reached, which the publisher's loop stores itself, its awaiting-release id, a
/// retained message, a subscription). Every such acknowledgement waits its turn, so they leave in
/// the order their packets came.
extension MQTTConnection {
    func sendDurableAck(_ ack: MQTTPacket) {
        guard let store = loopContext.store, store.durability == .sync else { return sendAck(ack) }
        let loop = self.loop
        let connection = NIOLoopBound(self, eventLoop: loop)
        store.whenCommitted { stored in
            loop.execute { connection.value.durableAckDecided(ack, stored: stored) }
        }
    }

    /// Runs `body` (the routing of a QoS 1/2 PUBLISH) as one unit for the store when the publish
    /// stores its copies itself (`StoreWriter.storesCopiesAtPublish`): no commit holds part of it.
    func withDurablePublish(_ qos: QoS, _ body: () -> Void) {
        guard let store = loopContext.store, store.storesCopiesAtPublish(of: qos) else { return body() }
        store.atomically(body)
    }

    /// The commit is done: the acknowledgement goes out; or it failed, and the client is not told
    /// that its packet was stored: 5.0 hears 0x97 (quota exceeded); 3.1.1, which has no negative
    /// PUBACK, is disconnected so that it sends the message again.
    private func durableAckDecided(_ ack: MQTTPacket, stored: Bool) {
        guard !stored else { return sendAck(ack) }
        let why = "the store cannot write (storage.durability = sync)"
        switch ack {
        case .puback(var refused) where version == .v5:
            refused.reasonCode = .quotaExceeded
            refused.properties = problem(why)
            sendAck(.puback(refused))
        case .pubrec(var refused) where version == .v5:
            refused.reasonCode = .quotaExceeded
            refused.properties = problem(why)
            sendAck(.pubrec(refused))
        case .suback(var refused):
            refused.reasonCodes = refused.reasonCodes.map { $0.isError ? $0 : (version == .v5 ? .quotaExceeded : .unspecifiedError) }
            sendAck(.suback(refused))
        default:
            logger.warning("\(why): closing the connection before acknowledging", metadata: ["packet": "\(ack.type)"])
            disconnect(.quotaExceeded, reason: why)
        }
    }
}
