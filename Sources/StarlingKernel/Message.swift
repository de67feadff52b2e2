import MQTTCore
import NIOCore
import Synchronization

/// An application message inside the broker: what one PUBLISH (or will, or API call) carries,
/// shared by every subscriber it reaches. Immutable; its payload is never copied per subscriber.
public final class Message: Sendable {
    public let topic: String
    public let payload: ByteBuffer
    public let qos: QoS
    public let retain: Bool
    /// The properties forwarded to subscribers: payload format, content type, response topic,
    /// correlation data, user properties. Message expiry is carried by `expiresAt`; topic alias
    /// and subscription identifiers are per connection and never stored here.
    public let properties: Properties
    /// The client id of the publisher, for no-local subscriptions; nil for messages the broker makes.
    public let publisherId: String?
    /// When the message expires (5.0 message expiry interval), or nil.
    public let expiresAt: NIODeadline?
    /// Another cluster node forwarded it here (its subscribers' backlogs hold the link back).
    public let forwarded: Bool

    /// QoS 0 PUBLISH packets, encoded once and shared by every subscriber that needs no
    /// per-connection variation (one per protocol family: 3.x and 5.0). Stored inline: a
    /// library class per cache cost two allocations per message and, unspecialised across
    /// modules, a generic metadata lookup per delivery.
    private let encodedV3 = AtomicLazyReference<EncodedPacket>()
    private let encodedV5 = AtomicLazyReference<EncodedPacket>()

    public init(topic: String, payload: ByteBuffer, qos: QoS, retain: Bool, properties: Properties = [],
                publisherId: String?, expiresAt: NIODeadline? = nil, forwarded: Bool = false) {
        self.forwarded = forwarded
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.publisherId = publisherId
        self.expiresAt = expiresAt
    }

    /// Builds a message from a client's PUBLISH: strips per-connection properties and turns
    /// the expiry interval into a deadline. `now` is read only for a message that expires (a clock
    /// read per PUBLISH showed in profiles).
    public convenience init(publish: Publish, topic: String, publisherId: String?, now: @autoclosure () -> NIODeadline,
                            forwarded: Bool = false) {
        var properties = publish.properties
        var expiresAt: NIODeadline? = nil
        if !properties.isEmpty {
            if let expiry = properties.messageExpiryInterval {
                expiresAt = now() + .seconds(Int64(expiry))
            }
            properties.list.removeAll { property in
                switch property {
                case .topicAlias, .subscriptionIdentifier, .messageExpiryInterval, .willDelayInterval: return true
                default: return false
                }
            }
        }
        self.init(topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
                  properties: properties, publisherId: publisherId, expiresAt: expiresAt, forwarded: forwarded)
    }

    /// The same message with another payload storage or retain flag (retained copies own their bytes).
    public func retainedCopy() -> Message {
        var compact = ByteBufferAllocator().buffer(capacity: payload.readableBytes)
        compact.writeImmutableBuffer(payload)
        return Message(topic: topic, payload: compact, qos: qos, retain: true, properties: properties,
                       publisherId: publisherId, expiresAt: expiresAt)
    }

    @inlinable public func isExpired(at now: NIODeadline) -> Bool {
        guard let expiresAt else { return false }
        return now >= expiresAt
    }

    /// The properties to send with this message at `now`: the stored ones plus the remaining expiry.
    public func outgoingProperties(now: @autoclosure () -> NIODeadline, subscriptionIdentifiers: [UInt32]) -> Properties {
        var result = properties
        if let expiresAt {
            let remaining = max(0, (expiresAt - now()).nanoseconds / 1_000_000_000)
            result.messageExpiryInterval = UInt32(clamping: remaining)
        }
        for identifier in subscriptionIdentifiers { result.append(.subscriptionIdentifier(identifier)) }
        return result
    }

    /// The shared QoS 0, retain-flag-clear PUBLISH for `version`, when it needs no per-subscriber
    /// change (no expiry to count down). Encoded once by whichever thread first asks.
    func sharedQoS0Packet(version: ProtocolVersion) -> ByteBuffer? {
        guard expiresAt == nil else { return nil }
        if let cached = version == .v5 ? encodedV5.load() : encodedV3.load() { return cached.bytes }
        let publish = Publish(topic: topic, payload: payload, qos: .atMostOnce, retain: false,
                              properties: version == .v5 ? properties : [])
        var buffer = ByteBufferAllocator().buffer(
            capacity: MQTTPacketEncoder.encodedSize(ofPublish: publish, version: version))
        MQTTPacketEncoder.encode(.publish(publish), version: version, into: &buffer)
        let packet = EncodedPacket(buffer)
        return (version == .v5 ? encodedV5.storeIfNil(packet) : encodedV3.storeIfNil(packet)).bytes
    }
}

/// An encoded packet behind a reference, for lock-free lazy caching.
final class EncodedPacket: Sendable {
    let bytes: ByteBuffer
    init(_ bytes: ByteBuffer) { self.bytes = bytes }
}
