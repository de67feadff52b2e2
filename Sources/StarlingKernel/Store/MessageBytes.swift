import MQTTCore
import NIOCore

/// A message as bytes, for a moved session (`SessionTransfer`) and for the store: its publisher's
/// client id and user name (each optional), then its MQTT 5.0 PUBLISH (length, 4 bytes, and the
/// packet), whose message expiry interval is the one that remained when it was written.
enum MessageBytes {
    static func write(_ message: Message, into buffer: inout ByteBuffer) {
        writeOptionalString(message.publisherId, into: &buffer)
        writeOptionalString(message.publisherUsername, into: &buffer)
        let publish = message.encodedForPeer()
        buffer.writeInteger(UInt32(publish.readableBytes))
        buffer.writeImmutableBuffer(publish)
    }

    static func read(_ buffer: inout ByteBuffer, decoder: inout MQTTPacketDecoder,
                     now: NIODeadline) throws(TransferError) -> Message {
        let publisherId = try readOptionalString(&buffer)
        let publisherUsername = try readOptionalString(&buffer)
        guard let length: UInt32 = buffer.readInteger(), var bytes = buffer.readSlice(length: Int(length)) else {
            throw TransferError("truncated message")
        }
        let packet: MQTTPacket?
        do {
            packet = try decoder.next(from: &bytes)
        } catch {
            throw TransferError("bad message: \(error)")
        }
        guard case .publish(let publish)? = packet, bytes.readableBytes == 0 else { throw TransferError("bad message") }
        return Message(publish: publish, topic: publish.topic, publisherId: publisherId,
                       publisherUsername: publisherUsername, now: now)
    }

    static func readString(_ buffer: inout ByteBuffer) throws(TransferError) -> String {
        guard let string = buffer.readMQTTString() else {
            throw TransferError("truncated string")
        }
        return string
    }

    static func writeOptionalString(_ string: String?, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(string == nil ? 0 : 1))
        if let string { buffer.writeMQTTString(string) }
    }

    static func readOptionalString(_ buffer: inout ByteBuffer) throws(TransferError) -> String? {
        guard let present: UInt8 = buffer.readInteger(), present <= 1 else { throw TransferError("bad optional string") }
        return present == 1 ? try readString(&buffer) : nil
    }
}

extension Message {
    /// The message as the store keeps it (`now`, `wallNow`: the same moment on both clocks).
    func stored(now: NIODeadline, wallNowMilliseconds: Int64) -> StoredMessage {
        var buffer = ByteBufferAllocator().buffer(capacity: 64 + topic.utf8.count + payload.readableBytes)
        MessageBytes.write(self, into: &buffer)
        let expires = expiresAt.map { wallNowMilliseconds + ($0 - now).nanoseconds / 1_000_000 }
        return StoredMessage(bytes: Array(buffer.readableBytesView), expiresAtMilliseconds: expires)
    }

    /// The message `stored` holds, its expiry counted from `wallNowMilliseconds`; nil when it has
    /// expired meanwhile. Throws for bytes that are not a stored message.
    static func restored(_ stored: StoredMessage, now: NIODeadline,
                         wallNowMilliseconds: Int64) throws(TransferError) -> Message? {
        var buffer = ByteBuffer(bytes: stored.bytes)
        var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
        let message = try MessageBytes.read(&buffer, decoder: &decoder, now: now)
        guard buffer.readableBytes == 0 else { throw TransferError("\(buffer.readableBytes) extra bytes after the message") }
        guard let expires = stored.expiresAtMilliseconds else { return message }
        let remaining = expires - wallNowMilliseconds
        guard remaining > 0 else { return nil }
        return Message(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                       properties: message.properties, publisherId: message.publisherId,
                       publisherUsername: message.publisherUsername, expiresAt: now + .milliseconds(remaining))
    }
}
