import MQTTCore
import XCTest
@testable import StarlingKernel

/// Shared subscription groups (`$share/{group}/{filter}`, `$queue/{filter}`): one member per
/// group receives each message, picked by the configured strategy, preferring online members.
final class SharedSubscriptionTests: KernelTestCase {
    /// A router with `strategy` and the sessions `s1`…`sN` subscribed to `filter`.
    private func makeGroup(_ strategy: SharedDispatchStrategy = .roundRobin, filter: String = "$share/g/t",
                           members count: Int = 3) -> (Router, [Session]) {
        let router = Router(strategy: strategy)
        let members = (1...count).map { makeSession("s\($0)") }
        router.subscribe(members, to: filter)
        return (router, members)
    }

    /// Publishes `count` messages on `topic` and returns how many each client id received,
    /// failing for any message that did not reach exactly one member.
    private func distribute(
        _ count: Int, on topic: String = "t", in router: Router, publisher: (Int) -> String? = { _ in nil },
        file: StaticString = #filePath, line: UInt = #line
    ) -> [String: Int] {
        var received: [String: Int] = [:]
        for index in 0..<count {
            let receivers = router.receivers(of: topic, from: publisher(index))
            XCTAssertEqual(receivers.count, 1, "message \(index) reached \(receivers)", file: file, line: line)
            for receiver in receivers { received[receiver, default: 0] += 1 }
        }
        return received
    }

    // MARK: - Groups

    func testShareFilterDeliversEachMessageToExactlyOneMember() throws {
        let (router, _) = makeGroup()
        for _ in 0..<10 {
            let deliveries = router.deliveries(for: "t")
            XCTAssertEqual(deliveries.count, 1)
            XCTAssertEqual(deliveries.first?.sharedGroup, SharedGroupKey(group: "g", filter: "t"))
        }
        XCTAssertEqual(router.receivers(of: "u"), [])
        XCTAssertEqual(router.subscriptionCount, 3)
    }

    func testQueueFilterIsOneGroup() throws {
        let (router, _) = makeGroup(filter: "$queue/jobs/+")
        XCTAssertEqual(distribute(9, on: "jobs/1", in: router).values.reduce(0, +), 9)
        XCTAssertEqual(router.deliveries(for: "jobs/2").first?.sharedGroup, SharedGroupKey(group: "$queue", filter: "jobs/+"))
        XCTAssertEqual(router.receivers(of: "jobs"), [])
    }

    func testSharedFilterMatchesLikeItsPlainFilter() {
        let (router, _) = makeGroup(filter: "$share/g/#", members: 2)
        XCTAssertEqual(distribute(4, on: "a/b/c", in: router).values.reduce(0, +), 4)
        XCTAssertEqual(router.receivers(of: "$SYS/x"), [], "# does not match $ topics in a group either")
    }

    func testTwoGroupsOnOneFilterEachGetOneCopy() {
        let router = Router(strategy: .roundRobin)
        router.subscribe(makeSessions("a1", "a2"), to: "$share/a/t")
        router.subscribe(makeSessions("b1", "b2"), to: "$share/b/t")
        router.subscribe(makeSessions("plain"), to: "t")
        for _ in 0..<6 {
            let deliveries = router.deliveries(for: "t")
            XCTAssertEqual(deliveries.count, 3)
            let byGroup = Dictionary(grouping: deliveries, by: { $0.sharedGroup?.group ?? "-" })
            XCTAssertEqual(byGroup["a"]?.count, 1)
            XCTAssertEqual(byGroup["b"]?.count, 1)
            XCTAssertEqual(byGroup["-"]?.map(\.session.clientId), ["plain"])
            XCTAssertTrue(byGroup["a"]?.first?.session.clientId.hasPrefix("a") ?? false)
            XCTAssertTrue(byGroup["b"]?.first?.session.clientId.hasPrefix("b") ?? false)
        }
    }

    func testSharedAndPlainSubscriptionsOfOneSessionAreSeparateDeliveries() {
        let router = Router(strategy: .roundRobin)
        let session = makeSession("s1")
        router.subscribe([session], to: "t")
        router.subscribe([session], to: "$share/g/t")
        let deliveries = router.deliveries(for: "t")
        XCTAssertEqual(deliveries.count, 2)
        XCTAssertEqual(Set(deliveries.map(\.sharedGroup)), [nil, SharedGroupKey(group: "g", filter: "t")])
    }

    func testResubscribingToAGroupReplacesOptions() throws {
        let (router, members) = makeGroup(members: 1)
        XCTAssertFalse(router.subscribe(members[0], filter: "$share/g/t", options: SubscriptionOptions(qos: .exactlyOnce)))
        XCTAssertEqual(router.subscriptionCount, 1)
        XCTAssertEqual(router.deliveries(for: "t").map(\.qos), [.exactlyOnce])
    }

    func testLeavingAGroup() {
        let (router, members) = makeGroup(members: 2)
        XCTAssertFalse(router.unsubscribe(members[0], filter: "$share/other/t"), "not a member of that group")
        XCTAssertFalse(router.unsubscribe(members[0], filter: "t"), "the plain filter is another subscription")
        XCTAssertTrue(router.unsubscribe(members[0], filter: "$share/g/t"))
        XCTAssertFalse(router.unsubscribe(members[0], filter: "$share/g/t"))
        XCTAssertEqual(distribute(4, in: router), ["s2": 4])
        XCTAssertTrue(router.unsubscribe(members[1], filter: "$share/g/t"))
        XCTAssertEqual(router.subscriptionCount, 0)
        XCTAssertEqual(router.receivers(of: "t"), [])
    }

    // MARK: - Strategies

    func testRoundRobinTakesTurns() {
        let (router, _) = makeGroup(.roundRobin)
        let first = (0..<3).flatMap { _ in router.receivers(of: "t") }
        XCTAssertEqual(Set(first).count, 3, "three messages in a row reach three members: \(first)")
        XCTAssertEqual(distribute(30, in: router), ["s1": 10, "s2": 10, "s3": 10])
    }

    func testHashClientIdKeepsOnePublisherOnOneMember() {
        let (router, _) = makeGroup(.hashClientId)
        XCTAssertEqual(distribute(20, in: router, publisher: { _ in "publisher-1" }).count, 1)
        XCTAssertEqual(distribute(20, on: "t", in: router, publisher: { _ in nil }).count, 1)
        let spread = distribute(60, in: router, publisher: { "publisher-\($0)" })
        XCTAssertGreaterThan(spread.count, 1, "sixty publishers all hashed to one member: \(spread)")
    }

    func testHashTopicKeepsOneTopicOnOneMember() {
        let (router, _) = makeGroup(.hashTopic, filter: "$share/g/t/+")
        XCTAssertEqual(distribute(20, on: "t/1", in: router, publisher: { "p\($0)" }).count, 1)
        var members = Set<String>()
        for index in 0..<60 { members.formUnion(router.receivers(of: "t/\(index)")) }
        XCTAssertGreaterThan(members.count, 1, "sixty topics all hashed to one member")
    }

    func testRandomReachesEveryMemberAndAlwaysExactlyOne() {
        let (router, _) = makeGroup(.random)
        // Missing a member in 300 fair draws has a probability of about 3 × (2/3)^300.
        let received = distribute(300, in: router)
        XCTAssertEqual(received.keys.sorted(), ["s1", "s2", "s3"])
    }

    // MARK: - Online and offline members

    func testOfflineMembersAreSkippedWhileOneIsOnline() throws {
        for strategy in SharedDispatchStrategy.allCases {
            let (router, members) = makeGroup(strategy)
            try bringOnline(members[1])
            XCTAssertEqual(distribute(12, in: router, publisher: { "p\($0)" }), ["s2": 12], "\(strategy)")
        }
    }

    func testWhenAllMembersAreOfflineOneStillReceivesEachMessage() {
        for strategy in SharedDispatchStrategy.allCases {
            let (router, _) = makeGroup(strategy)
            XCTAssertEqual(distribute(12, in: router, publisher: { "p\($0)" }).values.reduce(0, +), 12, "\(strategy)")
        }
        let (router, _) = makeGroup(.roundRobin)
        XCTAssertEqual(distribute(30, in: router), ["s1": 10, "s2": 10, "s3": 10], "offline members still take turns")
    }

    // MARK: - Redispatch

    private let key = SharedGroupKey(group: "g", filter: "t")

    func testRedispatchExcludesTheLeavingMember() throws {
        for strategy in SharedDispatchStrategy.allCases {
            let (router, members) = makeGroup(strategy)
            for member in members { try bringOnline(member) }
            var targets = Set<String>()
            for index in 0..<30 {
                let target = router.redispatchTarget(for: key, topic: "t", publisherId: "p\(index)", leaving: members[0])
                XCTAssertEqual(target?.sharedGroup, key)
                targets.insert(target?.session.clientId ?? "none")
            }
            XCTAssertFalse(targets.contains("s1"), "\(strategy): \(targets)")
            XCTAssertFalse(targets.contains("none"), "\(strategy): \(targets)")
        }
    }

    func testRedispatchPrefersAnOnlineMember() throws {
        let (router, members) = makeGroup(.roundRobin)
        try bringOnline(members[0])
        try bringOnline(members[2])
        for _ in 0..<6 {
            let target = router.redispatchTarget(for: key, topic: "t", publisherId: nil, leaving: members[0])
            XCTAssertEqual(target?.session.clientId, "s3")
        }
    }

    func testRedispatchFindsNoTargetWithoutAnotherOnlineMember() throws {
        let (router, members) = makeGroup(.roundRobin)
        try bringOnline(members[0])
        XCTAssertNil(router.redispatchTarget(for: key, topic: "t", publisherId: nil, leaving: members[0]),
                     "the other members are offline")
        let (alone, single) = makeGroup(.roundRobin, members: 1)
        try bringOnline(single[0])
        XCTAssertNil(alone.redispatchTarget(for: key, topic: "t", publisherId: nil, leaving: single[0]))
        XCTAssertNil(router.redispatchTarget(for: SharedGroupKey(group: "other", filter: "t"), topic: "t",
                                             publisherId: nil, leaving: members[1]), "no such group")
    }
}
