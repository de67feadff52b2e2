import MQTTCore
import XCTest
@testable import StarlingKernel

/// Overlapping subscriptions of one session (MQTT 5.0 section 3.3.4) and no-local.
final class RouterOverlapTests: RouterTestCase {
    private func subscribe(_ session: Session, _ filter: String, _ qos: QoS, id: UInt32? = nil,
                           noLocal: Bool = false, retainAsPublished: Bool = false) {
        router.subscribe(session, filter: filter,
                         options: SubscriptionOptions(qos: qos, noLocal: noLocal, retainAsPublished: retainAsPublished,
                                                      identifier: id))
    }

    /// The one delivery a message on `topic` makes, failing unless there is exactly one.
    private func onlyDelivery(for topic: String, from publisherId: String? = nil,
                              file: StaticString = #filePath, line: UInt = #line) throws -> Delivery {
        let deliveries = router.deliveries(for: topic, from: publisherId)
        XCTAssertEqual(deliveries.count, 1, "deliveries to \(deliveries.map(\.session.clientId))", file: file, line: line)
        return try XCTUnwrap(deliveries.first, file: file, line: line)
    }

    func testOverlappingSubscriptionsOfOneSessionMergeIntoOneDelivery() throws {
        let session = makeSession("s1")
        subscribe(session, "a/b", .atMostOnce, id: 1)
        subscribe(session, "a/+", .exactlyOnce, id: 2)
        subscribe(session, "#", .atLeastOnce, id: 3)
        subscribe(session, "a/c", .exactlyOnce, id: 4)
        let delivery = try onlyDelivery(for: "a/b")
        XCTAssertTrue(delivery.session === session)
        XCTAssertEqual(delivery.qos, .exactlyOnce, "the highest QoS of the matching subscriptions")
        XCTAssertEqual(delivery.identifiers.sorted(), [1, 2, 3], "every matching identifier, and only those")
        XCTAssertNil(delivery.sharedGroup)
    }

    func testMergedDeliveryTakesTheHighestQoSWhicheverMatchesFirst() throws {
        let session = makeSession("s1")
        subscribe(session, "#", .exactlyOnce)
        subscribe(session, "a/#", .atMostOnce)
        subscribe(session, "a/b", .atLeastOnce)
        XCTAssertEqual(try onlyDelivery(for: "a/b").qos, .exactlyOnce)
        XCTAssertEqual(try onlyDelivery(for: "a/b").identifiers, [], "no subscription had an identifier")
    }

    func testMergedDeliveryRetainsAsPublishedWhenAnyMatchDoes() throws {
        let session = makeSession("s1")
        subscribe(session, "a/b", .atMostOnce)
        subscribe(session, "a/+", .atMostOnce, retainAsPublished: true)
        subscribe(session, "c/+", .atMostOnce)
        subscribe(session, "c/#", .atMostOnce)
        XCTAssertTrue(try onlyDelivery(for: "a/b").retainAsPublished)
        XCTAssertFalse(try onlyDelivery(for: "c/d").retainAsPublished)
    }

    func testDifferentSessionsAreNotMerged() {
        let (s1, s2) = (makeSession("s1"), makeSession("s2"))
        subscribe(s1, "a/b", .atMostOnce, id: 1)
        subscribe(s1, "a/+", .atLeastOnce, id: 2)
        subscribe(s2, "a/b", .exactlyOnce, id: 7)
        let deliveries = router.deliveries(for: "a/b").sorted { $0.session.clientId < $1.session.clientId }
        XCTAssertEqual(deliveries.map(\.session.clientId), ["s1", "s2"])
        XCTAssertEqual(deliveries.map(\.qos), [.atLeastOnce, .exactlyOnce])
        XCTAssertEqual(deliveries.map { $0.identifiers.sorted() }, [[1, 2], [7]])
    }

    func testOverlapStillMergesAfterSubscriptionsComeAndGo() throws {
        let (s1, s2) = (makeSession("s1"), makeSession("s2"))
        subscribe(s1, "a/b", .atMostOnce, id: 1)
        subscribe(s1, "x", .atMostOnce)
        subscribe(s2, "a/b", .atMostOnce)
        subscribe(s2, "y", .atMostOnce)
        router.unsubscribe(s2, filter: "y")
        router.unsubscribe(s1, filter: "x")
        subscribe(s1, "a/#", .atLeastOnce, id: 2)
        let deliveries = router.deliveries(for: "a/b").filter { $0.session === s1 }
        XCTAssertEqual(deliveries.count, 1)
        XCTAssertEqual(deliveries.first?.identifiers.sorted(), [1, 2])
        XCTAssertEqual(deliveries.first?.qos, .atLeastOnce)
    }

    // MARK: - No local

    func testNoLocalDropsTheSubscribersOwnMessages() {
        let (s1, s2) = (makeSession("s1"), makeSession("s2"))
        subscribe(s1, "a/b", .atLeastOnce, noLocal: true)
        subscribe(s2, "a/b", .atLeastOnce, noLocal: true)
        XCTAssertEqual(router.receivers(of: "a/b", from: "s1"), ["s2"])
        XCTAssertEqual(router.receivers(of: "a/b", from: "s2"), ["s1"])
        XCTAssertEqual(router.receivers(of: "a/b", from: "s3"), ["s1", "s2"])
        XCTAssertEqual(router.receivers(of: "a/b", from: nil), ["s1", "s2"], "broker messages have no publisher")
    }

    func testWithoutNoLocalTheSubscriberReceivesItsOwnMessages() {
        subscribe(makeSession("s1"), "a/b", .atLeastOnce)
        XCTAssertEqual(router.receivers(of: "a/b", from: "s1"), ["s1"])
    }

    func testNoLocalDropsOnlyTheNoLocalSubscriptionOfAnOverlap() throws {
        let session = makeSession("s1")
        subscribe(session, "a/b", .exactlyOnce, id: 1, noLocal: true)
        subscribe(session, "a/+", .atMostOnce, id: 2)
        let own = try onlyDelivery(for: "a/b", from: "s1")
        XCTAssertEqual(own.qos, .atMostOnce, "the no-local subscription's QoS 2 does not count")
        XCTAssertEqual(own.identifiers, [2])
        let other = try onlyDelivery(for: "a/b", from: "s2")
        XCTAssertEqual(other.qos, .exactlyOnce)
        XCTAssertEqual(other.identifiers.sorted(), [1, 2])
    }

    func testEveryOverlappingNoLocalSubscriptionDropsTheOwnMessage() {
        let session = makeSession("s1")
        subscribe(session, "a/b", .atLeastOnce, noLocal: true)
        subscribe(session, "a/#", .atLeastOnce, noLocal: true)
        XCTAssertEqual(router.receivers(of: "a/b", from: "s1"), [])
        XCTAssertEqual(router.receivers(of: "a/b", from: "s2"), ["s1"])
    }
}
