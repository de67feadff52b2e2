import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import XCTest
@testable import StarlingKernel

/// The router tells the cluster about the first and the last local subscriber of each filter and
/// the first and last member of each shared group (reference counting), and nothing else.
final class RouteObserverTests: KernelTestCase {
    func testFirstAndLastSubscriberOnlyAndTheSnapshot() {
        let router = Router(strategy: .roundRobin)
        let (a, b) = (makeSession("a"), makeSession("b"))
        router.subscribe(a, filter: "before/#", options: SubscriptionOptions(qos: .atMostOnce))
        router.subscribe(a, filter: "$share/g/before", options: SubscriptionOptions(qos: .atMostOnce))
        let recorder = FakeCluster()
        XCTAssertEqual(router.observe(recorder).sorted(), ["$share/g/before", "before/#"],
                       "the snapshot holds plain filters and shared groups")
        router.subscribe(a, filter: "t/+", options: SubscriptionOptions(qos: .atLeastOnce))
        router.subscribe(b, filter: "t/+", options: SubscriptionOptions(qos: .atMostOnce))
        router.subscribe(a, filter: "t/+", options: SubscriptionOptions(qos: .exactlyOnce))  // a replacement
        router.subscribe(b, filter: "$share/g/t/+", options: SubscriptionOptions(qos: .atMostOnce))
        router.subscribe(a, filter: "$share/g/t/+", options: SubscriptionOptions(qos: .atMostOnce))
        router.subscribe(a, filter: "$queue/t/+", options: SubscriptionOptions(qos: .atMostOnce))
        XCTAssertEqual(recorder.take(), ["+t/+", "+$share/g/t/+", "+$queue/t/+"], "a group's first member only")
        router.unsubscribe(a, filter: "t/+")
        XCTAssertEqual(recorder.take(), [], "b still subscribes")
        router.unsubscribe(b, filter: "t/+")
        router.unsubscribe(b, filter: "$share/g/t/+")
        router.unsubscribe(b, filter: "never/subscribed")
        XCTAssertEqual(recorder.take(), ["-t/+"], "a still holds the group")
        router.unsubscribe(a, filter: "$share/g/t/+")
        router.unsubscribe(a, filter: "$queue/t/+")
        XCTAssertEqual(recorder.take(), ["-$share/g/t/+", "-$queue/t/+"])
    }

    func testASessionMovingConnectionsChangesNoRoute() {
        let router = Router(strategy: .roundRobin)
        let (old, new) = (makeSession("c"), makeSession("c"))
        let recorder = FakeCluster()
        _ = router.observe(recorder)
        router.subscribe(old, filter: "x", options: SubscriptionOptions(qos: .atMostOnce))
        XCTAssertEqual(recorder.take(), ["+x"])
        router.rebind(from: old, to: new, filters: ["x": SubscriptionOptions(qos: .atMostOnce)])
        XCTAssertEqual(recorder.take(), [])
        router.unsubscribeAll(new, filters: ["x"])
        XCTAssertEqual(recorder.take(), ["-x"])
    }
}
