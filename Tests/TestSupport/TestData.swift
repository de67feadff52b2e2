// Values tests build and read: kernel messages, packets on the wire, payloads as text.
import MQTTCore
import NIOCore
import StarlingKernel

/// A message as a client would publish it; the payload is the UTF-8 of `payload`.
public func message(
    _ topic: String, _ payload: String = "x", qos: QoS = .atLeastOnce, retain: Bool = false,
    from publisherId: String? = nil, expiresAt: NIODeadline? = nil
) -> Message {
    Message(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain,
            publisherId: publisherId, expiresAt: expiresAt)
}

/// `packets` one after the other, as `version` puts them on the wire.
public func encode(_ packets: [MQTTPacket], version: ProtocolVersion) -> ByteBuffer {
    var out = ByteBuffer()
    for packet in packets { MQTTPacketEncoder.encode(packet, version: version, into: &out) }
    return out
}

extension Publish {
    /// The payload as UTF-8 text.
    public var text: String { String(buffer: payload) }
}

extension Sequence where Element == Publish {
    /// The payloads as UTF-8 text, in order.
    public var texts: [String] { map(\.text) }
    /// The topics, in order.
    public var topics: [String] { map(\.topic) }
}
