import MQTTCore
import NIOCore
@testable import StarlingKernel
import XCTest

/// The hook chain's order and chain rule, without plugins: priority first, then the owner's load
/// order, then registration order; the first decision wins; deactivated owners are skipped.
final class HookChainTests: XCTestCase {
    private let publisher = ClientIdentity(clientId: "c", username: nil)

    /// The chain's answer as the connection reads it: the deciding hook's decision and owner,
    /// `.ignore` and nil when every hook passed.
    private func decide(_ list: HookList<AuthorizePublishHook>) -> (decision: HookDecision, owner: HookOwner?) {
        let request = PublishAuthorizationRequest(publisher: .passUnretained(publisher))
        let publish = Publish(topic: "t", payload: ByteBuffer())
        let outcome = list.run(from: 0, { $0(request, publish) })
        switch outcome {
        case nil: return (.ignore, nil)
        case .decided(let decision, _, _)?: return (decision, outcome?.owner)
        case .pending?: return (.pending, outcome?.owner)
        }
    }

    /// A hook that records its name into `calls` and answers `decision`.
    private func hook(_ name: String, _ decision: HookDecision, _ calls: CallLog) -> AuthorizePublishHook {
        { _, _ in
            calls.append(name)
            return decision
        }
    }

    func testOrderIsPriorityThenOwnerThenRegistration() {
        let calls = CallLog()
        let first = HookOwner(name: "first", sequence: 0)
        let second = HookOwner(name: "second", sequence: 1)
        var chains = HookChains()
        var mine = HookChains()
        mine.authorizePublish.add(hook("second-a", .ignore, calls), priority: 5, owner: second)
        mine.authorizePublish.add(hook("second-b", .ignore, calls), priority: 5, owner: second)
        mine.authorizePublish.add(hook("second-low", .ignore, calls), priority: -1, owner: second)
        chains.merge(mine)
        var theirs = HookChains()
        theirs.authorizePublish.add(hook("first-5", .ignore, calls), priority: 5, owner: first)
        theirs.authorizePublish.add(hook("first-9", .ignore, calls), priority: 9, owner: first)
        chains.merge(theirs)

        let (decision, owner) = decide(chains.authorizePublish)
        XCTAssertEqual(decision, .ignore)
        XCTAssertNil(owner)
        XCTAssertEqual(calls.names, ["first-9", "first-5", "second-a", "second-b", "second-low"])
    }

    func testFirstDecisionWinsAndDeactivatedOwnersAreSkipped() {
        let calls = CallLog()
        let denier = HookOwner(name: "denier", sequence: 0)
        let allower = HookOwner(name: "allower", sequence: 1)
        var chains = HookChains()
        chains.authorizePublish.add(hook("deny", .deny(.notAuthorized), calls), priority: 1, owner: denier)
        chains.authorizePublish.add(hook("allow", .allow, calls), priority: 0, owner: allower)

        var result = decide(chains.authorizePublish)
        XCTAssertEqual(result.decision, .deny(.notAuthorized))
        XCTAssertTrue(result.owner === denier)
        XCTAssertEqual(calls.names, ["deny"])

        denier.deactivate()
        result = decide(chains.authorizePublish)
        XCTAssertEqual(result.decision, .allow)
        XCTAssertEqual(calls.names, ["deny", "allow"])
        XCTAssertEqual(denier.callsInFlight, 0)
        XCTAssertEqual(allower.callsInFlight, 0)
    }

    func testRemoveTakesOnlyThatOwnersHooksAndAReloadKeepsItsPlace() {
        let calls = CallLog()
        let a = HookOwner(name: "a", sequence: 0)
        let b = HookOwner(name: "b", sequence: 1)
        var chains = HookChains()
        chains.authorizePublish.add(hook("a", .ignore, calls), priority: 0, owner: a)
        chains.authorizePublish.add(hook("b", .ignore, calls), priority: 0, owner: b)
        chains.clientConnected.add({ _ in }, priority: 0, owner: a)
        XCTAssertEqual(chains.count, 3)

        // A reload: a's new version keeps a's sequence, so it stays ahead of b.
        let reloaded = HookOwner(name: "a", sequence: a.sequence)
        var next = HookChains()
        next.authorizePublish.add(hook("a2", .ignore, calls), priority: 0, owner: reloaded)
        chains.remove(owner: a)
        chains.merge(next)
        XCTAssertEqual(chains.count, 2)
        _ = decide(chains.authorizePublish)
        XCTAssertEqual(calls.names, ["a2", "b"])
    }
}

/// Names of the hooks called, in order.
private final class CallLog: @unchecked Sendable {  // appended to on the test's thread only
    private(set) var names: [String] = []
    func append(_ name: String) { names.append(name) }
}
