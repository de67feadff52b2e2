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
    /// The publisher's user name (clients and wills), for the message hooks; nil otherwise.
    public let publisherUsername: String?
    /// When the message expires (5.0 message expiry interval), or nil.
    public let expiresAt: NIODeadline?
    /// The plugin that published it (`host->publish`), so that its own subscriptions can skip
    /// it; nil for everything else.
    public let origin: HookOwner?
    /// Another cluster node forwarded it here (its subscribers' backlogs hold the link back).
    public let forwarded: Bool

    /// The message's row in the durable store (0: none yet): written once however many stored
    /// sessions hold it. Read and set by `StoreWriter` under its lock only.
    let storeId = Atomic<Int64>(0)

    /// QoS 0 PUBLISH packets, encoded once and shared by every subscriber that needs no
    /// per-connection variation (one per protocol family: 3.x and 5.0).
    private let encodedV3 = LazyPacket()
    private let encodedV5 = LazyPacket()

    public init(topic: String, payload: ByteBuffer, qos: QoS, retain: Bool, properties: Properties = [],
                publisherId: String?, publisherUsername: String? = nil, expiresAt: NIODeadline? = nil,
                origin: HookOwner? = nil, forwarded: Bool = false) {
        self.forwarded = forwarded
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.publisherId = publisherId
        self.publisherUsername = publisherUsername
        self.expiresAt = expiresAt
        self.origin = origin
    }

    /// Builds a message from a client's PUBLISH: strips per-connection properties and turns
    /// the expiry interval into a deadline. `now` is read only for a message that expires, so a
    /// PUBLISH without an expiry reads no clock.
    public convenience init(publish: Publish, topic: String, publisherId: String?, publisherUsername: String? = nil,
                            now: @autoclosure () -> NIODeadline, origin: HookOwner? = nil, forwarded: Bool = false) {
        var properties = publish.properties
        var expiresAt: NIODeadline? = nil
        if !properties.isEmpty {
            if let expiry = properties.messageExpiryInterval {
                expiresAt = now() + .seconds(Int64(expiry))
            }
            properties.removePerConnectionProperties()
        }
        self.init(topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
                  properties: properties, publisherId: publisherId, publisherUsername: publisherUsername,
                  expiresAt: expiresAt, origin: origin, forwarded: forwarded)
    }

    /// The same message with another payload storage or retain flag (retained copies own their bytes).
    public func retainedCopy() -> Message {
        var compact = ByteBufferAllocator().buffer(capacity: payload.readableBytes)
        compact.writeImmutableBuffer(payload)
        return Message(topic: topic, payload: compact, qos: qos, retain: true, properties: properties,
                       publisherId: publisherId, publisherUsername: publisherUsername, expiresAt: expiresAt, origin: origin)
    }

    /// The message as an MQTT 5.0 PUBLISH for another cluster node (a forward, a retained copy,
    /// a moved session's queue), its expiry as the interval that remains.
    public func encodedForPeer() -> ByteBuffer {
        let publish = Publish(topic: topic, payload: payload, qos: qos, retain: retain,
                              packetIdentifier: qos == .atMostOnce ? nil : 1,
                              properties: outgoingProperties(now: .now(), subscriptionIdentifiers: []))
        var buffer = ByteBufferAllocator().buffer(capacity: MQTTPacketEncoder.encodedSize(ofPublish: publish, version: .v5))
        MQTTPacketEncoder.encode(.publish(publish), version: .v5, into: &buffer)
        return buffer
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
        if let cached = version == .v5 ? encodedV5.load() : encodedV3.load() { return cached }
        let publish = Publish(topic: topic, payload: payload, qos: .atMostOnce, retain: false,
                              properties: version == .v5 ? properties : [])
        var buffer = ByteBufferAllocator().buffer(
            capacity: MQTTPacketEncoder.encodedSize(ofPublish: publish, version: version))
        MQTTPacketEncoder.encode(.publish(publish), version: version, into: &buffer)
        return version == .v5 ? encodedV5.storeIfNil(buffer) : encodedV3.storeIfNil(buffer)
    }
}

/// An encoded packet behind a reference, set once by whichever thread first encodes it.
///
/// A word-sized atomic stored inline in the message: no allocation per message and no generic
/// metadata lookup per delivery, which a library lazy reference would cost (a class each, or an
/// unspecialised generic across modules).
struct LazyPacket: ~Copyable, Sendable {
    /// An `Unmanaged<EncodedPacket>` holding one retain, as its address; 0 until set.
    private let bits = Atomic<UInt>(0)

    init() {}

    func load() -> ByteBuffer? {
        let word = bits.load(ordering: .acquiring)
        guard word != 0 else { return nil }
        return Self.packet(at: word).takeUnretainedValue().bytes
    }

    /// Stores `bytes` unless another thread stored first; returns the stored packet either way.
    func storeIfNil(_ bytes: ByteBuffer) -> ByteBuffer {
        let new = Unmanaged.passRetained(EncodedPacket(bytes))
        let word = UInt(bitPattern: new.toOpaque())
        let (stored, existing) = bits.compareExchange(expected: 0, desired: word, ordering: .acquiringAndReleasing)
        if stored { return bytes }
        new.release()
        return Self.packet(at: existing).takeUnretainedValue().bytes
    }

    deinit {
        let word = bits.load(ordering: .acquiring)
        if word != 0 { Self.packet(at: word).release() }
    }

    private static func packet(at word: UInt) -> Unmanaged<EncodedPacket> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: word)!)
    }
}

private final class EncodedPacket: Sendable {
    let bytes: ByteBuffer
    init(_ bytes: ByteBuffer) { self.bytes = bytes }
}

extension Properties {
    /// Takes out what belongs to one connection or one PUBLISH rather than to the message: topic
    /// alias, subscription identifiers, message expiry (kept as a deadline) and will delay.
    mutating func removePerConnectionProperties() {
        list.removeAll { property in
            switch property {
            case .topicAlias, .subscriptionIdentifier, .messageExpiryInterval, .willDelayInterval: return true
            default: return false
            }
        }
    }
}
