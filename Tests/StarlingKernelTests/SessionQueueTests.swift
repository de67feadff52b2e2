import MQTTCore
import NIOCore
import XCTest
import StarlingTestSupport
@testable import StarlingKernel

/// The queue of a session without a connection: what it keeps and what its limits drop.
final class SessionQueueTests: KernelTestCase {
    /// Delivers one message per payload, each published at `qos` through a subscription at `qos`.
    private func deliver(_ payloads: String..., qos: QoS = .atLeastOnce, to session: Session) throws {
        for payload in payloads { try session.deliverNow(message("t", payload, qos: qos), subscriptionQoS: qos) }
    }

    private func assertQueue(_ session: Session, _ expected: [String], bytes: Int? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try session.queuedPayloads(), expected, file: file, line: line)
        XCTAssertEqual(try session.onLoop { session.queuedCount }, expected.count, file: file, line: line)
        XCTAssertEqual(try session.queuedByteCount(), bytes ?? expected.map(\.utf8.count).reduce(0, +),
                       "queued bytes", file: file, line: line)
    }

    func testDeliverQueuesForAnOfflineSession() throws {
        let session = offlineSession()
        XCTAssertFalse(session.isOnline)
        try deliver("one", "two", to: session)
        try deliver("three", qos: .atMostOnce, to: session)
        try deliver("four", qos: .exactlyOnce, to: session)
        try assertQueue(session, ["one", "two", "three", "four"])
        XCTAssertEqual(try session.onLoop { session.inflightCount }, 0, "nothing is in flight without a connection")
    }

    func testQueueKeepsTheNewestWithinTheMessageLimit() throws {
        let session = offlineSession { $0.maxQueuedMessages = 3 }
        try deliver("1", "2", "3", "4", "5", to: session)
        try assertQueue(session, ["3", "4", "5"])
        XCTAssertEqual(drops(.queueFull), 2)
    }

    func testZeroMessageLimitIsUnlimited() throws {
        let session = offlineSession { $0.maxQueuedMessages = 0 }
        for index in 0..<1_500 { try session.deliverNow(message("t", "\(index)")) }
        XCTAssertEqual(try session.onLoop { session.queuedCount }, 1_500)
        XCTAssertEqual(drops(.queueFull), 0)
    }

    func testQoS0IsDroppedBeforeQoS1OldestFirst() throws {
        let session = offlineSession { $0.maxQueuedMessages = 3 }
        try deliver("a", to: session)
        try deliver("b", "c", qos: .atMostOnce, to: session)
        try deliver("d", to: session)
        try assertQueue(session, ["a", "c", "d"])
        try deliver("e", to: session)
        try assertQueue(session, ["a", "d", "e"])
        XCTAssertEqual(drops(.queueFull), 2)
        try deliver("f", to: session)
        try assertQueue(session, ["d", "e", "f"], bytes: 3)
        XCTAssertEqual(drops(.queueFull), 3)
    }

    func testNewQoS0IsDroppedWhenOnlyQoS1IsQueued() throws {
        let session = offlineSession { $0.maxQueuedMessages = 2 }
        try deliver("a", "b", to: session)
        try deliver("c", qos: .atMostOnce, to: session)
        try assertQueue(session, ["a", "b"])
        XCTAssertEqual(drops(.queueFull), 1)
    }

    func testTheSubscriptionQoSDecidesWhatCountsAsQoS0() throws {
        let session = offlineSession { $0.maxQueuedMessages = 2 }
        try session.deliverNow(message("t", "a", qos: .exactlyOnce), subscriptionQoS: .atMostOnce)
        try deliver("b", "c", to: session)
        try assertQueue(session, ["b", "c"])
    }

    func testQoS0IsNotQueuedOfflineWhenTurnedOff() throws {
        let session = offlineSession { $0.queueQoS0Offline = false }
        try deliver("a", qos: .atMostOnce, to: session)
        try deliver("b", to: session)
        try session.deliverNow(message("t", "c", qos: .atLeastOnce), subscriptionQoS: .atMostOnce)
        try assertQueue(session, ["b"])
        XCTAssertEqual(drops(.qos0Offline), 2)
        XCTAssertEqual(drops(.queueFull), 0)
    }

    func testByteLimitDropsTheOldestUntilTheNewMessageFits() throws {
        let session = byteBoundedSession(10)
        try deliver("1111", "2222", to: session)
        try assertQueue(session, ["1111", "2222"])
        try deliver("333", to: session)
        try assertQueue(session, ["2222", "333"])
        try deliver("44", to: session)
        try assertQueue(session, ["2222", "333", "44"])
        try deliver("5555555", to: session)
        try assertQueue(session, ["44", "5555555"])
        XCTAssertEqual(drops(.queueFull), 3)
    }

    func testByteLimitDropsQoS0First() throws {
        let session = byteBoundedSession(10)
        try deliver("aaaa", to: session)
        try deliver("bbbb", qos: .atMostOnce, to: session)
        try deliver("cccc", to: session)
        try assertQueue(session, ["aaaa", "cccc"])
        try deliver("dd", qos: .atMostOnce, to: session)
        try assertQueue(session, ["aaaa", "cccc", "dd"])
        try deliver("eee", qos: .atMostOnce, to: session)
        try assertQueue(session, ["aaaa", "cccc"], bytes: 8)
        XCTAssertEqual(drops(.queueFull), 3)
    }

    func testExpiredMessagesAreNotQueued() throws {
        let session = offlineSession()
        try session.deliverNow(message("t", "old", expiresAt: .now() - .seconds(1)))
        try session.deliverNow(message("t", "new", expiresAt: .now() + .seconds(3600)))
        try assertQueue(session, ["new"])
        XCTAssertEqual(drops(.expired), 1)
    }

    // MARK: - Through the broker

    func testPublishReachesAnOfflineSubscribersQueue() throws {
        let session = offlineSession()
        let context = session.context
        XCTAssertTrue(try session.onLoop { session.addSubscription("a/+", options: SubscriptionOptions(qos: .atLeastOnce)) })
        let broker = self.broker!
        XCTAssertEqual(try session.onLoop { broker.publish(message("a/b", "hit", retain: true), from: context) }, 1)
        XCTAssertEqual(try session.onLoop { broker.publish(message("b", "miss"), from: context) }, 0)
        try assertQueue(session, ["hit"])
        XCTAssertEqual(drops(.noSubscribers), 1)
        XCTAssertEqual(broker.retained.count, 1)
        XCTAssertTrue(try session.onLoop { session.removeSubscription("a/+") })
        XCTAssertEqual(try session.onLoop { broker.publish(message("a/b", "gone"), from: context) }, 0)
        try assertQueue(session, ["hit"])
    }

    /// A single message larger than `maxQueuedBytes` is dropped; the queue keeps what fits.
    func testMessageLargerThanTheByteLimitIsDroppedWithoutEvictingTheQueue() throws {
        let session = byteBoundedSession(10)
        for payload in ["1111", "2222", "12345678901"] { try session.deliverNow(message("t", payload)) }
        XCTAssertLessThanOrEqual(try XCTUnwrap(session.queuedByteCount()), 10, "the byte bound holds")
        XCTAssertEqual(try session.queuedPayloads(), ["1111", "2222"])
        XCTAssertEqual(drops(.queueFull), 1, "only the oversized message is dropped")
    }
}
