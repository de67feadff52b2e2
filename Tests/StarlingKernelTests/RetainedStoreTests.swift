import MQTTCore
import NIOCore
import XCTest
import StarlingTestSupport
@testable import StarlingKernel

/// Retained messages: stored per topic, replaced, cleared by an empty payload, looked up by filter.
final class RetainedStoreTests: XCTestCase {
    private let store = RetainedStore()

    private func retain(_ topic: String, _ payload: String, expiresAt: NIODeadline? = nil) {
        store.update(with: message(topic, payload, retain: true, expiresAt: expiresAt))
    }

    /// The topics and payloads retained for `filter`, sorted by topic.
    private func lookup(_ filter: String) -> [String] {
        store.matching(filter, now: .now()).map { "\($0.topic)=\(String(buffer: $0.payload))" }.sorted()
    }

    func testSetStoresTheMessageForItsTopic() throws {
        store.update(with: message("a/b", "one", qos: .exactlyOnce, retain: true, from: "pub"))
        XCTAssertEqual(store.count, 1)
        let stored = try XCTUnwrap(store.matching("a/b", now: .now()).first)
        XCTAssertEqual(String(buffer: stored.payload), "one")
        XCTAssertEqual(stored.qos, .exactlyOnce)
        XCTAssertTrue(stored.retain)
        XCTAssertEqual(stored.publisherId, "pub")
        XCTAssertEqual(lookup("a/c"), [])
        XCTAssertEqual(lookup("a"), [])
    }

    func testStoredCopyOwnsItsBytes() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 4096)
        buffer.writeString("--payload--")
        buffer.moveReaderIndex(forwardBy: 2)
        buffer.moveWriterIndex(to: buffer.writerIndex - 2)
        store.update(with: Message(topic: "t", payload: buffer, qos: .atMostOnce, retain: true, publisherId: nil))
        let stored = try XCTUnwrap(store.matching("t", now: .now()).first)
        XCTAssertEqual(stored.payload, ByteBuffer(string: "payload"))
        XCTAssertLessThan(stored.payload.capacity, 4096, "a slice of a larger buffer is not kept alive")
    }

    func testSettingAgainReplaces() {
        retain("a/b", "one")
        retain("a/b", "two")
        XCTAssertEqual(store.count, 1)
        XCTAssertEqual(lookup("a/b"), ["a/b=two"])
    }

    func testEmptyPayloadClearsTheTopic() {
        retain("a/b", "one")
        retain("a/c", "other")
        retain("a/b", "")
        XCTAssertEqual(store.count, 1)
        XCTAssertEqual(lookup("a/b"), [])
        XCTAssertEqual(lookup("a/#"), ["a/c=other"])
        retain("never/set", "")
        XCTAssertEqual(store.count, 1, "clearing an unset topic stores nothing")
    }

    func testRemove() {
        retain("a/b", "one")
        XCTAssertTrue(store.remove(topic: "a/b").removed)
        XCTAssertFalse(store.remove(topic: "a/b").removed)
        XCTAssertEqual(store.count, 0)
    }

    func testWildcardLookup() {
        for topic in ["a", "a/b", "a/c", "a/b/c", "b/b", "/a", "$SYS/uptime", "$SYS/load/1"] { retain(topic, "1") }
        XCTAssertEqual(lookup("a/+"), ["a/b=1", "a/c=1"])
        XCTAssertEqual(lookup("a/#"), ["a/b/c=1", "a/b=1", "a/c=1", "a=1"])
        XCTAssertEqual(lookup("+/b"), ["a/b=1", "b/b=1"])
        XCTAssertEqual(lookup("+/+"), ["/a=1", "a/b=1", "a/c=1", "b/b=1"])
        XCTAssertEqual(lookup("#").count, 6, "every topic but the $ ones")
        XCTAssertEqual(lookup("$SYS/#"), ["$SYS/load/1=1", "$SYS/uptime=1"])
        XCTAssertEqual(lookup("$SYS/+"), ["$SYS/uptime=1"])
        XCTAssertEqual(lookup("+/uptime"), [])
    }

    func testExpiredMessagesAreNotReturnedAndAreRemoved() {
        let past = NIODeadline.now() - .seconds(1)
        retain("exact/old", "1", expiresAt: past)
        retain("wild/old", "1", expiresAt: past)
        retain("wild/new", "1", expiresAt: .now() + .seconds(3600))
        retain("wild/forever", "1")
        XCTAssertEqual(store.count, 4)
        XCTAssertEqual(lookup("exact/old"), [])
        XCTAssertEqual(store.count, 3, "an exact lookup removes the expired message")
        XCTAssertEqual(lookup("wild/+"), ["wild/forever=1", "wild/new=1"])
        XCTAssertEqual(store.count, 2, "a wildcard lookup removes the expired message")
    }

    func testExpiryIsJudgedAtTheLookupTime() {
        let deadline = NIODeadline.now() + .seconds(60)
        retain("t", "1", expiresAt: deadline)
        XCTAssertEqual(store.matching("t", now: deadline - .nanoseconds(1)).count, 1)
        XCTAssertEqual(store.matching("t", now: deadline).count, 0)
        XCTAssertEqual(store.count, 0)
    }
}
