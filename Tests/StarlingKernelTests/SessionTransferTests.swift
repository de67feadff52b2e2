import MQTTCore
import NIOCore
import XCTest
@testable import StarlingKernel

/// A session's state survives the trip to another node byte for byte, and damaged bytes are an
/// error, never a crash.
final class SessionTransferTests: XCTestCase {
    private func message(_ topic: String, _ payload: String, qos: QoS, expiry: UInt32? = nil, publisher: String? = "pub") -> Message {
        var properties = Properties()
        properties.contentType = "text/plain"
        properties.userProperties = [("k", "v")]
        if let expiry { properties.messageExpiryInterval = expiry }
        let publish = Publish(topic: topic, payload: ByteBuffer(string: payload), qos: qos, properties: properties)
        return Message(publish: publish, topic: topic, publisherId: publisher, publisherUsername: publisher.map { "user-\($0)" },
                       now: .now())
    }

    private func sample() -> SessionState {
        let group = SharedGroupKey(group: "g", filter: "s/#")
        var queue = CircularBuffer<PendingMessage>(initialCapacity: 2)
        queue.append(PendingMessage(message: message("q/1", "first", qos: .atLeastOnce, expiry: 600), qos: .atLeastOnce,
                                    retain: true, identifiers: [7, 9], sharedGroup: nil))
        queue.append(PendingMessage(message: message("s/x", "second", qos: .exactlyOnce, publisher: nil), qos: .exactlyOnce,
                                    retain: false, identifiers: [], sharedGroup: group))
        let inflight: [UInt16: InflightMessage] = [
            5: InflightMessage(pending: PendingMessage(message: message("i/5", "five", qos: .atLeastOnce), qos: .atLeastOnce,
                                                       retain: false, identifiers: [], sharedGroup: nil),
                               phase: .awaitingAck, sequence: 11),
            6: InflightMessage(pending: PendingMessage(message: message("i/6", "six", qos: .exactlyOnce), qos: .exactlyOnce,
                                                       retain: false, identifiers: [3], sharedGroup: nil),
                               phase: .awaitingComplete, sequence: 12),
        ]
        return SessionState(
            subscriptions: ["q/#": SubscriptionOptions(qos: .atLeastOnce, noLocal: true, retainAsPublished: true,
                                                       retainHandling: .sendOnNewSubscribe, identifier: 7),
                            "$share/g/s/#": SubscriptionOptions(qos: .exactlyOnce)],
            inflight: inflight, queue: queue, queuedBytes: 11, awaitingRelease: [2, 40_000],
            nextPacketId: 13, sequence: 12)
    }

    private func describe(_ pending: PendingMessage) -> String {
        let m = pending.message
        return "\(m.topic) \(String(buffer: m.payload)) \(m.qos) \(pending.qos) \(pending.retain) \(pending.identifiers) "
            + "\(pending.sharedGroup.map(\.routeFilter) ?? "-") \(m.publisherId ?? "-") \(m.publisherUsername ?? "-") "
            + "\(m.properties.contentType ?? "-") "
            + "\(m.properties.userProperties.map { "\($0.0)=\($0.1)" }) \(m.expiresAt != nil)"
    }

    func testTheStateRoundTrips() throws {
        let state = sample()
        let decoded = try SessionTransfer.decode(SessionTransfer.encode(state), now: .now())
        XCTAssertEqual(decoded.subscriptions, state.subscriptions)
        XCTAssertEqual(decoded.awaitingRelease, state.awaitingRelease)
        XCTAssertEqual(decoded.nextPacketId, 13)
        XCTAssertEqual(decoded.sequence, 12)
        XCTAssertEqual(decoded.queuedBytes, 11)
        XCTAssertEqual(decoded.queue.map(describe), state.queue.map(describe))
        XCTAssertEqual(decoded.inflight.keys.sorted(), [5, 6])
        for (packetId, entry) in state.inflight {
            let moved = try XCTUnwrap(decoded.inflight[packetId])
            XCTAssertEqual(moved.phase, entry.phase)
            XCTAssertEqual(moved.sequence, entry.sequence)
            XCTAssertEqual(describe(moved.pending), describe(entry.pending))
        }
        let expiry = try XCTUnwrap(decoded.queue.first?.message.expiresAt)
        XCTAssertGreaterThan(expiry, .now() + .seconds(590), "the expiry that remains travels")
    }

    func testDamagedStateIsAnErrorNotACrash() {
        let bytes = SessionTransfer.encode(sample())
        for length in stride(from: 0, to: bytes.readableBytes, by: 7) {
            XCTAssertThrowsError(try SessionTransfer.decode(bytes.getSlice(at: 0, length: length)!, now: .now()),
                                 "cut at \(length)")
        }
        var otherFormat = bytes
        otherFormat.setInteger(UInt8(99), at: 0)
        XCTAssertThrowsError(try SessionTransfer.decode(otherFormat, now: .now())) { error in
            XCTAssertTrue("\(error)".contains("format 99"), "\(error)")
        }
        var trailing = bytes
        trailing.writeInteger(UInt8(0))
        XCTAssertThrowsError(try SessionTransfer.decode(trailing, now: .now()))
    }
}
