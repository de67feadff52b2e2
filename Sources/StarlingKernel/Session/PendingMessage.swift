import MQTTCore
import NIOCore

/// A message waiting in a session's queue or in flight to its client: the shared message
/// and what this session's subscription made of it.
struct PendingMessage {
    let message: Message
    let qos: QoS
    /// The RETAIN flag to send (retain-as-published, or a retained message sent on subscribe).
    let retain: Bool
    let identifiers: [UInt32]
    let sharedGroup: SharedGroupKey?
    /// Its row in the durable store (`StoreWriter`), 0 while it has none: a session that outlives
    /// its connection stores every message it queues or has in flight.
    var storeKey: Int64 = 0

    var payloadBytes: Int { message.payload.readableBytes }
}

/// An outgoing QoS 1/2 message awaiting its acknowledgement.
struct InflightMessage {
    enum Phase {
        /// QoS 1 sent, awaiting PUBACK; or QoS 2 sent, awaiting PUBREC.
        case awaitingAck
        /// QoS 2: PUBREC received, PUBREL sent, awaiting PUBCOMP.
        case awaitingComplete
    }
    var pending: PendingMessage
    var phase: Phase
    /// Send order, so a resumed session redelivers in the original order.
    let sequence: UInt64
}

/// What moves from one session object to its successor when a client resumes its session
/// on a new connection (possibly on another event loop).
struct SessionState {
    var subscriptions: [String: SubscriptionOptions]
    var inflight: [UInt16: InflightMessage]
    var queue: CircularBuffer<PendingMessage>
    var queuedBytes: Int
    var awaitingRelease: Set<UInt16>
    var nextPacketId: UInt16
    var sequence: UInt64
}
