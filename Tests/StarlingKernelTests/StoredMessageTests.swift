import MQTTCore
import NIOCore
@testable import StarlingKernel
import XCTest

/// A message as the store keeps it: bytes and a wall-clock expiry, so that the time the broker was
/// down counts against the message expiry interval.
final class StoredMessageTests: XCTestCase {
    private func message(expiry: UInt32?) -> Message {
        var properties: Properties = [.contentType("text/plain"), .userProperty("k", "v")]
        if let expiry { properties.messageExpiryInterval = expiry }
        let publish = Publish(topic: "a/b", payload: ByteBuffer(string: "payload"), qos: .atLeastOnce, retain: true,
                              packetIdentifier: 7, properties: properties)
        return Message(publish: publish, topic: "a/b", publisherId: "pub", publisherUsername: "alice", now: .now())
    }

    func testARoundTripKeepsWhatSubscribersSee() throws {
        let now = NIODeadline.now()
        let stored = message(expiry: nil).stored(now: now, wallNowMilliseconds: 1_000_000)
        XCTAssertNil(stored.expiresAtMilliseconds)
        let back = try XCTUnwrap(try Message.restored(stored, now: now, wallNowMilliseconds: 9_999_999_999))
        XCTAssertEqual([back.topic, String(buffer: back.payload), back.publisherId, back.publisherUsername], ["a/b", "payload", "pub", "alice"])
        XCTAssertEqual(back.qos, .atLeastOnce)
        XCTAssertTrue(back.retain)
        XCTAssertEqual(back.properties, [.contentType("text/plain"), .userProperty("k", "v")])
        XCTAssertNil(back.expiresAt)
    }

    func testExpiryCountsTheTimeBetweenWritingAndReading() throws {
        let written = NIODeadline.now()
        let stored = message(expiry: 60).stored(now: written, wallNowMilliseconds: 1_000_000)
        let expiresAt = try XCTUnwrap(stored.expiresAtMilliseconds)
        XCTAssertEqual(Double(expiresAt), 1_060_000, accuracy: 1_000)
        // Read back 45 s later (another process, another monotonic clock): 15 s remain.
        let later = NIODeadline.uptimeNanoseconds(5)
        let back = try XCTUnwrap(try Message.restored(stored, now: later, wallNowMilliseconds: 1_045_000))
        let remaining = try XCTUnwrap(back.expiresAt) - later
        XCTAssertEqual(Double(remaining.nanoseconds) / 1e9, 15, accuracy: 1)
        // Past its expiry: gone.
        XCTAssertNil(try Message.restored(stored, now: later, wallNowMilliseconds: expiresAt))
    }

    func testBytesThatAreNoStoredMessageAreRefused() {
        for bytes: [UInt8] in [[], [0], [2, 0, 0], [0, 0, 0, 0, 0, 9, 0x30]] {
            XCTAssertThrowsError(try Message.restored(StoredMessage(bytes: bytes, expiresAtMilliseconds: nil),
                                                      now: .now(), wallNowMilliseconds: 0), "\(bytes)")
        }
    }
}
