import MQTTCore
import NIOCore
import StarlingKernel

/// A frame that could not be read; the link closes with this message.
struct FrameError: Error, CustomStringConvertible, Equatable {
    var description: String
    /// The peer speaks a protocol version this node does not.
    var unsupportedVersion: UInt8?

    init(_ description: String, unsupportedVersion: UInt8? = nil) {
        self.description = description
        self.unsupportedVersion = unsupportedVersion
    }
}

/// Writes and reads frames (see `Frame` for the layout).
enum FrameCodec {
    /// Appends `frame` to `buffer`.
    static func encode(_ frame: Frame, into buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(Frame.version)
        buffer.writeInteger(frame.typeCode)
        switch frame {
        case .hello(let hello):
            writeHello(hello, into: &buffer)
        case .challenge(let hello, let proof):
            writeHello(hello, into: &buffer)
            buffer.writeBytes(proof)
        case .proof(let proof):
            buffer.writeBytes(proof)
        case .welcome(let members), .members(let members):
            buffer.writeInteger(UInt32(members.count))
            for member in members {
                buffer.writeMQTTString(member.name)
                buffer.writeInteger(UInt16(member.port))
            }
        case .refuse(let reason, let message):
            buffer.writeInteger(reason.rawValue)
            buffer.writeMQTTString(message)
        case .heartbeat, .leave, .unknown:
            break
        case .routeSnapshot(let filters):
            buffer.writeInteger(UInt32(filters.count))
            for filter in filters { buffer.writeMQTTString(filter) }
        case .routeOps(let ops):
            buffer.writeInteger(UInt32(ops.count))
            for op in ops {
                buffer.writeInteger(UInt8(op.add ? 1 : 0))
                buffer.writeMQTTString(op.filter)
            }
        case .forward(let count, let publishes), .sharedForward(let count, let publishes):
            buffer.writeInteger(UInt32(count))
            buffer.writeImmutableBuffer(publishes)
        case .retained(let entries):
            buffer.writeInteger(UInt32(entries.count))
            for entry in entries {
                buffer.writeMQTTString(entry.topic)
                buffer.writeInteger(entry.time)
                buffer.writeMQTTString(entry.node)
                if let publish = entry.publish {
                    buffer.writeInteger(UInt8(1))
                    buffer.writeInteger(UInt32(publish.readableBytes))
                    buffer.writeImmutableBuffer(publish)
                } else {
                    buffer.writeInteger(UInt8(0))
                }
            }
        case .clientClaim(let request, let clientId):
            buffer.writeInteger(request)
            buffer.writeMQTTString(clientId)
        case .clientHolder(let request, let holder):
            buffer.writeInteger(request)
            buffer.writeMQTTString(holder)
        case .clientSnapshot(let clientIds):
            buffer.writeInteger(UInt32(clientIds.count))
            for clientId in clientIds { buffer.writeMQTTString(clientId) }
        case .clientRelease(let clientId):
            buffer.writeMQTTString(clientId)
        case .takeOver(let request, let clientId, let resume):
            buffer.writeInteger(request)
            buffer.writeMQTTString(clientId)
            buffer.writeInteger(UInt8(resume ? 1 : 0))
        case .sessionState(let request, let state):
            buffer.writeInteger(request)
            if let state {
                buffer.writeInteger(UInt8(1))
                buffer.writeImmutableBuffer(state)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        }
        buffer.setInteger(UInt32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex)
    }

    /// Reads one whole frame from `buffer` if it holds one; nil when more bytes are needed.
    /// `maximumLength` bounds what a peer may make this node buffer (small before the handshake).
    static func decode(from buffer: inout ByteBuffer, maximumLength: Int = Frame.maximumLength) throws(FrameError) -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= 2, length <= maximumLength else { throw FrameError("frame length \(length) out of range") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        var body = buffer.readSlice(length: Int(length))!
        let version: UInt8 = body.readInteger()!
        guard version == Frame.version else {
            throw FrameError("protocol version \(version), this node speaks \(Frame.version)", unsupportedVersion: version)
        }
        let type: UInt8 = body.readInteger()!
        let frame = try readBody(type: type, from: &body)
        guard body.readableBytes == 0 else { throw FrameError("\(body.readableBytes) extra bytes after frame type \(type)") }
        return frame
    }

    private static func readBody(type: UInt8, from body: inout ByteBuffer) throws(FrameError) -> Frame {
        switch type {
        case 1: return .hello(try readHello(&body))
        case 2:
            let hello = try readHello(&body)
            return .challenge(hello, proof: try readBytes(&body, count: HandshakeProof.length))
        case 3: return .proof(try readBytes(&body, count: HandshakeProof.length))
        case 4, 7:
            let count = try readCount(&body)
            var members: [PeerAddress] = []
            for _ in 0..<count {
                let name = try readString(&body)
                guard let port: UInt16 = body.readInteger() else { throw FrameError("truncated member list") }
                members.append(PeerAddress(name: name, port: Int(port)))
            }
            return type == 4 ? .welcome(members: members) : .members(members)
        case 5:
            guard let code: UInt8 = body.readInteger() else { throw FrameError("truncated refusal") }
            return .refuse(RefuseReason(rawValue: code) ?? .malformed, message: try readString(&body))
        case 6: return .heartbeat
        case 8:
            let count = try readCount(&body)
            var filters: [String] = []
            filters.reserveCapacity(count)
            for _ in 0..<count { filters.append(try readString(&body)) }
            return .routeSnapshot(filters: filters)
        case 9:
            let count = try readCount(&body)
            var ops: [RouteOp] = []
            ops.reserveCapacity(count)
            for _ in 0..<count {
                guard let add: UInt8 = body.readInteger(), add <= 1 else { throw FrameError("bad route op") }
                ops.append(RouteOp(add: add == 1, filter: try readString(&body)))
            }
            return .routeOps(ops)
        case 10, 13:
            let count = try readCount(&body)
            let publishes = body.readSlice(length: body.readableBytes)!
            return type == 10 ? .forward(count: count, publishes: publishes) : .sharedForward(count: count, publishes: publishes)
        case 11: return .leave
        case 12:
            let count = try readCount(&body)
            var entries: [RetainedEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let topic = try readString(&body)
                guard let time: UInt64 = body.readInteger() else { throw FrameError("truncated retained entry") }
                let node = try readString(&body)
                guard let present: UInt8 = body.readInteger(), present <= 1 else { throw FrameError("bad retained entry") }
                var publish: ByteBuffer? = nil
                if present == 1 {
                    guard let length: UInt32 = body.readInteger(), let bytes = body.readSlice(length: Int(length)) else {
                        throw FrameError("truncated retained message")
                    }
                    publish = bytes
                }
                entries.append(RetainedEntry(topic: topic, time: time, node: node, publish: publish))
            }
            return .retained(entries)
        case 14, 15:
            guard let request: UInt64 = body.readInteger() else { throw FrameError("truncated registry frame") }
            let text = try readString(&body)
            return type == 14 ? .clientClaim(request: request, clientId: text) : .clientHolder(request: request, holder: text)
        case 16:
            let count = try readCount(&body)
            var clientIds: [String] = []
            clientIds.reserveCapacity(count)
            for _ in 0..<count { clientIds.append(try readString(&body)) }
            return .clientSnapshot(clientIds)
        case 17: return .clientRelease(try readString(&body))
        case 18:
            guard let request: UInt64 = body.readInteger() else { throw FrameError("truncated take-over") }
            let clientId = try readString(&body)
            guard let resume: UInt8 = body.readInteger(), resume <= 1 else { throw FrameError("bad take-over") }
            return .takeOver(request: request, clientId: clientId, resume: resume == 1)
        case 19:
            guard let request: UInt64 = body.readInteger(), let present: UInt8 = body.readInteger(), present <= 1 else {
                throw FrameError("bad session state frame")
            }
            return .sessionState(request: request, state: present == 1 ? body.readSlice(length: body.readableBytes)! : nil)
        default:
            // A later release's frame: skipped, so nodes of two releases can share a cluster.
            body.moveReaderIndex(to: body.writerIndex)
            return .unknown(type: type)
        }
    }

    private static func writeHello(_ hello: Hello, into buffer: inout ByteBuffer) {
        buffer.writeMQTTString(hello.name)
        buffer.writeInteger(hello.incarnation)
        buffer.writeInteger(UInt16(hello.port))
        buffer.writeBytes(hello.nonce)
    }

    private static func readHello(_ body: inout ByteBuffer) throws(FrameError) -> Hello {
        let name = try readString(&body)
        guard let incarnation: UInt64 = body.readInteger(), let port: UInt16 = body.readInteger() else {
            throw FrameError("truncated hello")
        }
        return Hello(name: name, incarnation: incarnation, port: Int(port), nonce: try readBytes(&body, count: HandshakeProof.nonceLength))
    }

    /// The header of one message in a `sharedForward` frame: the group it is for.
    static func writeSharedHeader(_ group: SharedGroupKey, into buffer: inout ByteBuffer) {
        buffer.writeMQTTString(group.group)
        buffer.writeMQTTString(group.filter)
    }

    static func readSharedHeader(_ body: inout ByteBuffer) throws(FrameError) -> SharedGroupKey {
        let group = try readString(&body)
        return SharedGroupKey(group: group, filter: try readString(&body))
    }

    private static func readString(_ body: inout ByteBuffer) throws(FrameError) -> String {
        guard let string = body.readMQTTString() else {
            throw FrameError("truncated string")
        }
        return string
    }

    private static func readCount(_ body: inout ByteBuffer) throws(FrameError) -> Int {
        guard let count: UInt32 = body.readInteger(), Int(count) <= body.readableBytes else { throw FrameError("bad count") }
        return Int(count)
    }

    private static func readBytes(_ body: inout ByteBuffer, count: Int) throws(FrameError) -> [UInt8] {
        guard let bytes = body.readBytes(length: count) else { throw FrameError("truncated frame") }
        return bytes
    }
}
