import MQTTCore
import NIOCore

/// A session's state as bytes, for moving it to another cluster node: subscriptions, the messages
/// in flight and queued (each an MQTT 5.0 PUBLISH, its expiry as the interval that remains), the
/// QoS 2 packet ids awaiting release, and the packet-id and send-order counters.
///
/// Layout (big-endian): format version (1 byte), next packet id (2), sequence (8); subscriptions
/// (count 4, then filter, QoS, flags, retain handling, optional identifier); packet ids awaiting
/// release (count 4, 2 each); in-flight messages (count 4, then packet id, phase, sequence, the
/// message); queued messages (count 4, then the message). A message: QoS, RETAIN flag,
/// subscription identifiers, optional shared group, optional publisher id and user name, PUBLISH length (4)
/// and bytes.
enum SessionTransfer {
    static let formatVersion: UInt8 = 1

    static func encode(_ state: SessionState) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 256 + state.queuedBytes)
        buffer.writeInteger(formatVersion)
        buffer.writeInteger(state.nextPacketId)
        buffer.writeInteger(state.sequence)
        writeSubscriptions(state.subscriptions, into: &buffer)
        buffer.writeInteger(UInt32(state.awaitingRelease.count))
        for packetId in state.awaitingRelease { buffer.writeInteger(packetId) }
        buffer.writeInteger(UInt32(state.inflight.count))
        for (packetId, entry) in state.inflight.sorted(by: { $0.value.sequence < $1.value.sequence }) {
            buffer.writeInteger(packetId)
            buffer.writeInteger(UInt8(entry.phase == .awaitingAck ? 0 : 1))
            buffer.writeInteger(entry.sequence)
            writePending(entry.pending, into: &buffer)
        }
        buffer.writeInteger(UInt32(state.queue.count))
        for pending in state.queue { writePending(pending, into: &buffer) }
        return buffer
    }

    /// The state in `bytes`, or why it cannot be read (a peer of another format, or damage).
    static func decode(_ bytes: ByteBuffer, now: NIODeadline) throws(TransferError) -> SessionState {
        var buffer = bytes
        guard let version: UInt8 = buffer.readInteger() else { throw TransferError("empty session state") }
        guard version == formatVersion else {
            throw TransferError("session state format \(version), this node reads \(formatVersion)")
        }
        guard let nextPacketId: UInt16 = buffer.readInteger(), let sequence: UInt64 = buffer.readInteger() else {
            throw TransferError("truncated session state")
        }
        var state = SessionState(subscriptions: [:], inflight: [:], queue: CircularBuffer(initialCapacity: 1),
                                 queuedBytes: 0, awaitingRelease: [], nextPacketId: max(nextPacketId, 1),
                                 sequence: sequence)
        state.subscriptions = try readSubscriptions(&buffer)
        for _ in 0..<(try readCount(&buffer)) {
            guard let packetId: UInt16 = buffer.readInteger() else { throw TransferError("truncated packet ids") }
            state.awaitingRelease.insert(packetId)
        }
        var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
        for _ in 0..<(try readCount(&buffer)) {
            guard let packetId: UInt16 = buffer.readInteger(), packetId != 0, let phase: UInt8 = buffer.readInteger(), phase <= 1,
                  let entrySequence: UInt64 = buffer.readInteger() else { throw TransferError("bad in-flight entry") }
            let pending = try readPending(&buffer, decoder: &decoder, now: now)
            state.inflight[packetId] = InflightMessage(pending: pending, phase: phase == 0 ? .awaitingAck : .awaitingComplete,
                                                       sequence: entrySequence)
        }
        for _ in 0..<(try readCount(&buffer)) {
            let pending = try readPending(&buffer, decoder: &decoder, now: now)
            state.queue.append(pending)
            state.queuedBytes += pending.payloadBytes
        }
        guard buffer.readableBytes == 0 else { throw TransferError("\(buffer.readableBytes) extra bytes after the session state") }
        return state
    }

    // MARK: - Messages

    private static func writePending(_ pending: PendingMessage, into buffer: inout ByteBuffer) {
        writeDeliveryOptions(of: pending, into: &buffer)
        MessageBytes.write(pending.message, into: &buffer)
    }

    private static func readPending(_ buffer: inout ByteBuffer, decoder: inout MQTTPacketDecoder,
                                    now: NIODeadline) throws(TransferError) -> PendingMessage {
        let options = try readDeliveryOptions(&buffer)
        return options.pending(with: try MessageBytes.read(&buffer, decoder: &decoder, now: now))
    }

    // MARK: - Parts shared with the store

    /// A session's subscriptions: count (4), then each filter with its QoS, flags, retain handling
    /// and optional identifier.
    static func writeSubscriptions(_ subscriptions: [String: SubscriptionOptions], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(subscriptions.count))
        for (filter, options) in subscriptions {
            buffer.writeMQTTString(filter)
            buffer.writeInteger(options.qos.rawValue)
            buffer.writeInteger(UInt8((options.noLocal ? 1 : 0) | (options.retainAsPublished ? 2 : 0)))
            buffer.writeInteger(options.retainHandling.rawValue)
            writeOptional(options.identifier, into: &buffer)
        }
    }

    static func readSubscriptions(_ buffer: inout ByteBuffer) throws(TransferError) -> [String: SubscriptionOptions] {
        var subscriptions: [String: SubscriptionOptions] = [:]
        for _ in 0..<(try readCount(&buffer)) {
            let filter = try MessageBytes.readString(&buffer)
            guard let qosByte: UInt8 = buffer.readInteger(), let qos = QoS(rawValue: qosByte),
                  let flags: UInt8 = buffer.readInteger(),
                  let handlingByte: UInt8 = buffer.readInteger(), let handling = RetainHandling(rawValue: handlingByte)
            else { throw TransferError("bad subscription options for \(filter)") }
            guard MQTTTopic.isValidFilter(filter) else {
                throw TransferError("invalid filter \(filter)")
            }
            subscriptions[filter] = SubscriptionOptions(
                qos: qos, noLocal: flags & 1 != 0, retainAsPublished: flags & 2 != 0, retainHandling: handling,
                identifier: try readOptional(&buffer))
        }
        return subscriptions
    }

    /// What a session's subscription made of a message (everything of a `PendingMessage` but the
    /// message): QoS, RETAIN flag, subscription identifiers, optional shared group.
    static func writeDeliveryOptions(of pending: PendingMessage, into buffer: inout ByteBuffer) {
        buffer.writeInteger(pending.qos.rawValue)
        buffer.writeInteger(UInt8(pending.retain ? 1 : 0))
        buffer.writeInteger(UInt16(pending.identifiers.count))
        for identifier in pending.identifiers { buffer.writeInteger(identifier) }
        if let group = pending.sharedGroup {
            buffer.writeInteger(UInt8(1))
            buffer.writeMQTTString(group.group)
            buffer.writeMQTTString(group.filter)
        } else {
            buffer.writeInteger(UInt8(0))
        }
    }

    static func readDeliveryOptions(_ buffer: inout ByteBuffer) throws(TransferError) -> DeliveryOptions {
        guard let qosByte: UInt8 = buffer.readInteger(), let qos = QoS(rawValue: qosByte),
              let retain: UInt8 = buffer.readInteger(), let identifierCount: UInt16 = buffer.readInteger() else {
            throw TransferError("bad message entry")
        }
        var identifiers: [UInt32] = []
        for _ in 0..<identifierCount {
            guard let identifier: UInt32 = buffer.readInteger() else { throw TransferError("truncated identifiers") }
            identifiers.append(identifier)
        }
        guard let hasGroup: UInt8 = buffer.readInteger(), hasGroup <= 1 else { throw TransferError("bad message entry") }
        var group: SharedGroupKey? = nil
        if hasGroup == 1 {
            let name = try MessageBytes.readString(&buffer)
            group = SharedGroupKey(group: name, filter: try MessageBytes.readString(&buffer))
        }
        return DeliveryOptions(qos: qos, retain: retain == 1, identifiers: identifiers, sharedGroup: group)
    }

    // MARK: - Primitives

    static func writeOptional(_ value: UInt32?, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(value == nil ? 0 : 1))
        if let value { buffer.writeInteger(value) }
    }

    static func readOptional(_ buffer: inout ByteBuffer) throws(TransferError) -> UInt32? {
        guard let present: UInt8 = buffer.readInteger(), present <= 1 else { throw TransferError("bad optional value") }
        guard present == 1 else { return nil }
        guard let value: UInt32 = buffer.readInteger() else { throw TransferError("truncated value") }
        return value
    }

    static func readCount(_ buffer: inout ByteBuffer) throws(TransferError) -> Int {
        guard let count: UInt32 = buffer.readInteger(), Int(count) <= buffer.readableBytes else {
            throw TransferError("bad count")
        }
        return Int(count)
    }
}

/// A `PendingMessage` without its message, as `SessionTransfer.readDeliveryOptions` reads it.
struct DeliveryOptions {
    let qos: QoS
    let retain: Bool
    let identifiers: [UInt32]
    let sharedGroup: SharedGroupKey?

    func pending(with message: Message, storeKey: Int64 = 0) -> PendingMessage {
        PendingMessage(message: message, qos: qos, retain: retain, identifiers: identifiers, sharedGroup: sharedGroup,
                       storeKey: storeKey)
    }
}

/// A session state that could not be read.
struct TransferError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
