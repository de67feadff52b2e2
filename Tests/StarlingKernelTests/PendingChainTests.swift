import MQTTCore
import NIOCore
@testable import StarlingKernel
import XCTest

/// The pieces of pending answers that need no connection: the ticket's layout, the chain run that
/// stops at a pending hook (its owner stays counted in flight) and resumes after it.
final class PendingChainTests: XCTestCase {
    func testTicketsCarryTheirHookAndLoop() {
        for hook in [PendingHook.clientConnect, .authenticate, .authorizePublish, .authorizeSubscribe, .enhancedAuth] {
            let ticket = PendingTicket(counter: 123_456_789, hook: hook, loopIndex: 4094)
            XCTAssertEqual(ticket.hook, hook)
            XCTAssertEqual(ticket.loopIndex, 4094)
            XCTAssertNotEqual(ticket, PendingTicket(counter: 123_456_790, hook: hook, loopIndex: 4094))
        }
        XCTAssertNil(PendingTicket(7).hook, "a number the broker did not issue names no hook")
    }

    func testRunStopsAtAPendingHookWithItsOwnerInFlightAndResumesAfterIt() {
        let first = HookOwner(name: "first", sequence: 0)
        let second = HookOwner(name: "second", sequence: 1)
        var list = HookList<AuthorizePublishHook>()
        list.add({ _, _ in .pending }, priority: 0, owner: first)
        list.add({ _, _ in .allow }, priority: 0, owner: second)
        let publisher = ClientIdentity(clientId: "c", username: nil)
        do {
            let request = PublishAuthorizationRequest(publisher: .passUnretained(publisher))
            let publish = Publish(topic: "t", payload: ByteBuffer())
            guard case .pending(let owner, let index) = list.run(from: 0, { $0(request, publish) }) else {
                return XCTFail("the chain did not stop at the pending hook")
            }
            XCTAssertTrue(owner.takeUnretainedValue() === first)
            XCTAssertEqual(index, 0)
            XCTAssertEqual(first.callsInFlight, 1, "an open ticket counts as a call in flight")
            XCTAssertEqual(second.callsInFlight, 0)
            guard case .decided(.allow, let decider, 1) = list.run(from: index + 1, { $0(request, publish) }) else {
                return XCTFail("IGNORE did not resume at the next hook")
            }
            XCTAssertTrue(decider.takeUnretainedValue() === second)
            XCTAssertNil(list.run(from: 2, { $0(request, publish) }), "nothing left: every hook passed")
        }
        first.leave()
        XCTAssertEqual(first.callsInFlight, 0)
        withExtendedLifetime(publisher) {}  // the request refers to it without holding it
    }
}
