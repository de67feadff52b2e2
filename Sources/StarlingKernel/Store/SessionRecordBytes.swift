import MQTTCore
import NIOCore

/// The kernel's encoding of what a `SessionRecord` and a `SessionMessageRecord` carry beyond their
/// columns. A session: format version (1 byte), user name (optional string), subscriptions
/// (`SessionTransfer.writeSubscriptions`), delayed will (flag; then the message as `MessageBytes`,
/// its expiry and the moment it goes out, in wall-clock milliseconds), the packet id a restart
/// continues from (2 bytes). A session message: its
/// delivery options (`SessionTransfer.writeDeliveryOptions`).
enum SessionRecordBytes {
    static let formatVersion: UInt8 = 1

    /// A session's stored state, read back.
    struct Decoded {
        var username: String?
        var subscriptions: [String: SubscriptionOptions]
        /// The delayed will and when it goes out (wall-clock milliseconds).
        var will: (message: StoredMessage, atMilliseconds: Int64)?
        /// Past every packet id handed out before the record was written (`Session.packetIdsFrom`).
        var packetIdsFrom: UInt16
    }

    static func encode(username: String?, subscriptions: [String: SubscriptionOptions],
                       will: (message: StoredMessage, atMilliseconds: Int64)?, packetIdsFrom: UInt16) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeInteger(formatVersion)
        MessageBytes.writeOptionalString(username, into: &buffer)
        SessionTransfer.writeSubscriptions(subscriptions, into: &buffer)
        if let will {
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt32(will.message.bytes.count))
            buffer.writeBytes(will.message.bytes)
            buffer.writeInteger(will.message.expiresAtMilliseconds ?? -1)
            buffer.writeInteger(will.atMilliseconds)
        } else {
            buffer.writeInteger(UInt8(0))
        }
        buffer.writeInteger(packetIdsFrom)
        return Array(buffer.readableBytesView)
    }

    static func decode(_ bytes: [UInt8]) throws(TransferError) -> Decoded {
        var buffer = ByteBuffer(bytes: bytes)
        guard let version: UInt8 = buffer.readInteger() else { throw TransferError("empty session record") }
        guard version == formatVersion else {
            throw TransferError("session record format \(version), this Starling reads \(formatVersion)")
        }
        var decoded = Decoded(username: try MessageBytes.readOptionalString(&buffer),
                              subscriptions: try SessionTransfer.readSubscriptions(&buffer), will: nil, packetIdsFrom: 1)
        guard let hasWill: UInt8 = buffer.readInteger(), hasWill <= 1 else { throw TransferError("bad will flag") }
        if hasWill == 1 {
            guard let length: UInt32 = buffer.readInteger(), let message = buffer.readBytes(length: Int(length)),
                  let expires: Int64 = buffer.readInteger(), let at: Int64 = buffer.readInteger() else {
                throw TransferError("truncated will")
            }
            decoded.will = (StoredMessage(bytes: message, expiresAtMilliseconds: expires < 0 ? nil : expires), at)
        }
        guard let packetIdsFrom: UInt16 = buffer.readInteger(), packetIdsFrom != 0 else { throw TransferError("bad packet id") }
        decoded.packetIdsFrom = packetIdsFrom
        guard buffer.readableBytes == 0 else { throw TransferError("\(buffer.readableBytes) extra bytes after the session record") }
        return decoded
    }

    static func encodeDelivery(of pending: PendingMessage) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        SessionTransfer.writeDeliveryOptions(of: pending, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func decodeDelivery(_ bytes: [UInt8]) throws(TransferError) -> DeliveryOptions {
        var buffer = ByteBuffer(bytes: bytes)
        let options = try SessionTransfer.readDeliveryOptions(&buffer)
        guard buffer.readableBytes == 0 else { throw TransferError("extra bytes after delivery options") }
        return options
    }
}
