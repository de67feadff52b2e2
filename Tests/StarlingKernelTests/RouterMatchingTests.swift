import MQTTCore
import XCTest
@testable import StarlingKernel

/// Which filters match which topics, and how the tree changes on (un)subscribe.
final class RouterMatchingTests: RouterTestCase {
    /// Subscribes one session named after `filter` to it, then checks each topic: the session
    /// receives a message on the topics in `matching` and not on those in `notMatching`.
    private func assertFilter(
        _ filter: String, matches matching: [String], notMatches notMatching: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let router = Router(strategy: .roundRobin)
        router.subscribe([makeSession(filter)], to: filter)
        for topic in matching {
            XCTAssertEqual(router.receivers(of: topic), [filter], "'\(filter)' should match '\(topic)'",
                           file: file, line: line)
        }
        for topic in notMatching {
            XCTAssertEqual(router.receivers(of: topic), [], "'\(filter)' should not match '\(topic)'",
                           file: file, line: line)
        }
    }

    // MARK: - Matching

    func testExactFilterMatchesOnlyItsTopic() {
        assertFilter("a/b/c", matches: ["a/b/c"], notMatches: ["a/b", "a/b/c/d", "a/b/cd", "a/B/c", "b/b/c", "a/b/c/", "/a/b/c"])
    }

    func testPlusMatchesExactlyOneLevel() {
        assertFilter("a/+/c", matches: ["a/b/c", "a/xyz/c"], notMatches: ["a/c", "a/b/d/c", "a/b/c/d", "b/b/c"])
        assertFilter("a/+", matches: ["a/b"], notMatches: ["a", "a/b/c"])
        assertFilter("+", matches: ["a", "abc"], notMatches: ["a/b", "/a"])
        assertFilter("+/+", matches: ["a/b", "/a", "a/", "/"], notMatches: ["a", "a/b/c"])
    }

    func testPlusMatchesAnEmptyLevel() {
        assertFilter("a/+/c", matches: ["a//c"], notMatches: ["a///c"])
        assertFilter("a/+", matches: ["a/"], notMatches: ["a//"])
        assertFilter("+/b", matches: ["/b"], notMatches: ["b"])
    }

    func testHashMatchesTheParentAndEveryLevelBelow() {
        assertFilter("a/#", matches: ["a", "a/b", "a/b/c", "a/", "a//"], notMatches: ["b", "ab", "b/a", "/a"])
        assertFilter("a/b/#", matches: ["a/b", "a/b/c/d/e"], notMatches: ["a", "a/c"])
        assertFilter("a/+/#", matches: ["a/b", "a/b/c", "a/"], notMatches: ["a", "b/c"])
    }

    func testHashAloneMatchesEveryTopicNotStartingWithDollar() {
        assertFilter("#", matches: ["a", "a/b/c", "/", "/a", "a/$SYS", "SYS/$"], notMatches: ["$SYS", "$SYS/x", "$other/a/b"])
    }

    func testWildcardsAtTheFirstLevelDoNotMatchDollarTopics() {
        assertFilter("+/x", matches: ["a/x"], notMatches: ["$SYS/x"])
        assertFilter("+/#", matches: ["a", "a/x"], notMatches: ["$SYS", "$SYS/x"])
        assertFilter("+", matches: ["a"], notMatches: ["$SYS"])
    }

    func testDollarFiltersMatchDollarTopics() {
        assertFilter("$SYS/#", matches: ["$SYS", "$SYS/x", "$SYS/broker/uptime"], notMatches: ["SYS/x", "$sys/x", "a/$SYS/x"])
        assertFilter("$SYS/+", matches: ["$SYS/x", "$SYS/"], notMatches: ["$SYS", "$SYS/x/y"])
        assertFilter("$SYS/x", matches: ["$SYS/x"], notMatches: ["$SYS/y"])
    }

    func testLeadingSlashMakesAnEmptyFirstLevel() {
        assertFilter("/a", matches: ["/a"], notMatches: ["a", "//a", "/a/b"])
        assertFilter("/+", matches: ["/a", "/"], notMatches: ["a", "a/b"])
        assertFilter("/#", matches: ["/", "/a", "/a/b"], notMatches: ["a", "a/"])
        assertFilter("+/a", matches: ["/a"], notMatches: ["a"])
    }

    func testEveryMatchingFilterOfDifferentSessionsDeliversOnce() {
        let filters = ["a/b/c", "a/+/c", "a/#", "#", "+/+/+", "a/b/+", "a/b/c/#", "x/#", "a/b"]
        for filter in filters { router.subscribe([makeSession(filter)], to: filter) }
        XCTAssertEqual(router.receivers(of: "a/b/c"), ["#", "+/+/+", "a/#", "a/+/c", "a/b/+", "a/b/c", "a/b/c/#"])
    }

    func testSeveralSubscribersOnOneFilterEachReceiveOnce() {
        router.subscribe(makeSessions("s1", "s2", "s3"), to: "t/+")
        XCTAssertEqual(router.receivers(of: "t/1"), ["s1", "s2", "s3"])
        XCTAssertEqual(router.subscriptionCount, 3)
    }

    // MARK: - Subscribe and unsubscribe

    func testSubscribeReportsWhetherTheSubscriptionIsNew() {
        let session = makeSession("s1")
        XCTAssertTrue(router.subscribe(session, filter: "a/b", options: SubscriptionOptions(qos: .atMostOnce)))
        XCTAssertFalse(router.subscribe(session, filter: "a/b", options: SubscriptionOptions(qos: .exactlyOnce)))
        XCTAssertTrue(router.subscribe(session, filter: "a/+", options: SubscriptionOptions(qos: .atMostOnce)))
    }

    func testResubscribingReplacesOptionsWithoutCountingTwice() throws {
        let session = makeSession("s1")
        router.subscribe(session, filter: "a/b", options: SubscriptionOptions(qos: .atMostOnce, identifier: 1))
        router.subscribe(session, filter: "a/b", options: SubscriptionOptions(qos: .exactlyOnce, retainAsPublished: true, identifier: 2))
        XCTAssertEqual(router.subscriptionCount, 1)
        let deliveries = router.deliveries(for: "a/b")
        XCTAssertEqual(deliveries.count, 1)
        let delivery = try XCTUnwrap(deliveries.first)
        XCTAssertEqual(delivery.qos, .exactlyOnce)
        XCTAssertTrue(delivery.retainAsPublished)
        XCTAssertEqual(delivery.identifiers, [2])
    }

    func testUnsubscribeStopsMatchingAndReportsWhetherItExisted() {
        let (s1, s2) = (makeSession("s1"), makeSession("s2"))
        router.subscribe([s1, s2], to: "a/+")
        XCTAssertFalse(router.unsubscribe(s1, filter: "a/b"), "a filter never subscribed")
        XCTAssertFalse(router.unsubscribe(s1, filter: "x/+"), "a filter nobody subscribed")
        XCTAssertTrue(router.unsubscribe(s1, filter: "a/+"))
        XCTAssertEqual(router.receivers(of: "a/b"), ["s2"])
        XCTAssertFalse(router.unsubscribe(s1, filter: "a/+"), "already unsubscribed")
        XCTAssertEqual(router.subscriptionCount, 1)
    }

    func testUnsubscribingAnotherSessionsFilterChangesNothing() {
        let (s1, s2) = (makeSession("s1"), makeSession("s2"))
        router.subscribe([s1], to: "a/#")
        XCTAssertFalse(router.unsubscribe(s2, filter: "a/#"))
        XCTAssertEqual(router.receivers(of: "a/b"), ["s1"])
        XCTAssertEqual(router.subscriptionCount, 1)
    }

    func testUnsubscribingTheLastSubscriberEmptiesTheTree() {
        let session = makeSession("s1")
        let filters = ["a/b/c", "a/+/c", "a/#", "#", "+", "/x"]
        for filter in filters { router.subscribe([session], to: filter) }
        XCTAssertEqual(router.subscriptionCount, filters.count)
        for filter in filters { XCTAssertTrue(router.unsubscribe(session, filter: filter), filter) }
        XCTAssertEqual(router.subscriptionCount, 0)
        for topic in ["a/b/c", "a", "/x", "b"] {
            XCTAssertEqual(router.receivers(of: topic), [], topic)
        }
        // The pruned path can be built again.
        router.subscribe([session], to: "a/+/c")
        XCTAssertEqual(router.receivers(of: "a/b/c"), ["s1"])
    }

    func testPruningKeepsSiblingsAndDescendants() {
        let (s1, s2, s3, s4) = (makeSession("s1"), makeSession("s2"), makeSession("s3"), makeSession("s4"))
        router.subscribe([s1], to: "a/b")
        router.subscribe([s2], to: "a/b/c")
        router.subscribe([s3], to: "a/#")
        router.subscribe([s4], to: "a/+/c")
        XCTAssertTrue(router.unsubscribe(s2, filter: "a/b/c"))
        XCTAssertEqual(router.receivers(of: "a/b"), ["s1", "s3"])
        XCTAssertEqual(router.receivers(of: "a/b/c"), ["s3", "s4"])
        XCTAssertTrue(router.unsubscribe(s3, filter: "a/#"))
        XCTAssertEqual(router.receivers(of: "a/b"), ["s1"])
        XCTAssertEqual(router.receivers(of: "a/b/c"), ["s4"])
        XCTAssertTrue(router.unsubscribe(s1, filter: "a/b"))
        XCTAssertEqual(router.receivers(of: "a/b/c"), ["s4"])
        XCTAssertEqual(router.subscriptionCount, 1)
    }

    func testUnsubscribeAllRemovesOnlyTheNamedFilters() {
        let (s1, s2) = (makeSession("s1"), makeSession("s2"))
        for filter in ["a", "b", "c"] { router.subscribe([s1, s2], to: filter) }
        router.unsubscribeAll(s1, filters: ["a", "b", "never"])
        XCTAssertEqual(router.receivers(of: "a"), ["s2"])
        XCTAssertEqual(router.receivers(of: "c"), ["s1", "s2"])
        XCTAssertEqual(router.subscriptionCount, 4)
    }
}
