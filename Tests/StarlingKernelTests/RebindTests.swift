import MQTTCore
import XCTest
@testable import StarlingKernel

/// A session resumed on a new connection takes over its predecessor's routes.
final class RebindTests: KernelTestCase {
    private let filters: [String: SubscriptionOptions] = [
        "a/b": SubscriptionOptions(qos: .atLeastOnce, identifier: 5),
        "a/#": SubscriptionOptions(qos: .exactlyOnce),
        "$share/g/t": SubscriptionOptions(qos: .atLeastOnce),
        "$queue/q": SubscriptionOptions(qos: .atMostOnce),
    ]

    /// Asserts that `filters` route to `new` and no longer to `old` in `router`.
    private func assertRoutesMoved(in router: Router, from old: Session, to new: Session,
                                   file: StaticString = #filePath, line: UInt = #line) {
        let plain = router.deliveries(for: "a/b")
        XCTAssertEqual(plain.count, 1, file: file, line: line)
        XCTAssertTrue(plain.first?.session === new, file: file, line: line)
        XCTAssertEqual(plain.first?.qos, .exactlyOnce, "the two filters still merge", file: file, line: line)
        XCTAssertEqual(plain.first?.identifiers, [5], file: file, line: line)
        for _ in 0..<6 {
            let shared = router.deliveries(for: "t").map(\.session)
            XCTAssertEqual(shared.count, 1, file: file, line: line)
            XCTAssertFalse(shared.contains { $0 === old }, file: file, line: line)
            XCTAssertTrue(router.deliveries(for: "q").first?.session === new, file: file, line: line)
        }
        for filter in filters.keys {
            XCTAssertFalse(router.unsubscribe(old, filter: filter), "\(filter) left on the old session", file: file, line: line)
        }
    }

    func testRebindMovesEveryPlainAndSharedSubscription() {
        let router = Router(strategy: .roundRobin)
        let (old, new, peer) = (makeSession("c"), makeSession("c"), makeSession("peer"))
        for (filter, options) in filters { router.subscribe(old, filter: filter, options: options) }
        router.subscribe([peer], to: "$share/g/t")
        let count = router.subscriptionCount

        router.rebind(from: old, to: new, filters: filters)

        XCTAssertEqual(router.subscriptionCount, count)
        assertRoutesMoved(in: router, from: old, to: new)
        XCTAssertEqual(Set((0..<2).flatMap { _ in router.receivers(of: "t") }), ["c", "peer"],
                       "the new session takes the old one's turn in the group")
        for filter in filters.keys { XCTAssertTrue(router.unsubscribe(new, filter: filter), filter) }
        XCTAssertEqual(router.subscriptionCount, 1)
    }

    func testHandOverWithResumeRebindsTheSessionsSubscriptions() throws {
        let (old, new) = (makeSession("c"), makeSession("c"))
        let filters = self.filters
        let moved = try old.onLoop {
            old.install(nil)
            for (filter, options) in filters { _ = old.addSubscription(filter, options: options) }
            var handed: [String]?
            old.handOver(to: .local(new), resume: true) { state in handed = state?.subscriptions.keys.sorted() }
            return handed
        }
        XCTAssertEqual(moved, filters.keys.sorted())
        assertRoutesMoved(in: broker.router, from: old, to: new)
    }
}
