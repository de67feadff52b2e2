import MQTTCore
import XCTest
import StarlingTestSupport
@testable import StarlingKernel

/// A session's life as one state: installing, active, replaced by a newer object on this node,
/// leaving for another node and gone from it, or ended. What reaches it afterwards follows that
/// state: forwarded to the successor, kept while leaving, dropped once gone.
final class SessionHandOverTests: KernelTestCase {
    /// A registered, installed session "c" with a QoS 1 subscription to "t" and one queued message.
    private func activeSession() throws -> Session {
        let session = makeSession("c")
        let registry = broker.registry
        try session.onLoop {
            _ = registry.claim(session)
            session.install(nil)
            _ = session.addSubscription("t", options: SubscriptionOptions(qos: .atLeastOnce))
        }
        try session.deliverNow(message("t", "queued"))
        return session
    }

    func testLeavingForAnotherNodeTakesTheQueueAndDropsLaterDeliveries() throws {
        let session = try activeSession()
        let handed = try session.onLoop { () -> [String]? in
            var state: SessionState?
            session.handOver(to: .anotherNode, resume: true) { state = $0 }
            return state.map { $0.queue.map { String(buffer: $0.message.payload) } }
        }
        XCTAssertEqual(handed, ["queued"], "the queue goes with the state")
        XCTAssertTrue(try session.onLoop { session.isSuperseded })
        XCTAssertNil(broker.registry.session(for: "c"), "this node no longer holds the client id")
        XCTAssertEqual(broker.router.receivers(of: "t"), [], "no new match reaches it")
        try session.deliverNow(message("t", "late"))
        XCTAssertEqual(try session.queuedPayloads(), [], "a delivery after the state left is not kept")
    }

    func testAReplacedSessionForwardsStragglersToItsSuccessor() throws {
        let session = try activeSession()
        let successor = makeSession("c")
        let registry = broker.registry
        try session.onLoop {
            _ = registry.claim(successor)
            session.handOver(to: .local(successor), resume: true) { successor.install($0) }
        }
        XCTAssertEqual(try successor.queuedPayloads(), ["queued"])
        try session.deliverNow(message("t", "straggler"))
        XCTAssertEqual(try successor.queuedPayloads(), ["queued", "straggler"])
        XCTAssertEqual(try session.queuedPayloads(), [])
    }

    func testAHandOverAskedWhileInstallingWaitsForTheState() throws {
        let session = makeSession("c")
        let (before, after) = try session.onLoop { () -> (Bool, Bool) in
            var answered = false
            session.handOver(to: .anotherNode, resume: false) { _ in answered = true }
            let before = answered
            session.install(nil)
            return (before, answered)
        }
        XCTAssertFalse(before, "no answer before the state is in")
        XCTAssertTrue(after)
    }

    func testAnEndedSessionHandsNothingOver() throws {
        let session = try activeSession()
        let state = try session.onLoop { () -> SessionState?? in
            session.end(.closed)
            var state: SessionState?? = .none
            session.handOver(to: .anotherNode, resume: true) { state = .some($0) }
            return state
        }
        XCTAssertEqual(state.map { $0 == nil }, true, "answered at once, with no state")
        XCTAssertFalse(try session.onLoop { session.isSuperseded })
    }
}
