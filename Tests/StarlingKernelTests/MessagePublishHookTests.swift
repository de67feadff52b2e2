import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
@testable import StarlingKernel
import XCTest
import StarlingTestSupport

/// The `message_publish` chain with Swift hooks, no C: each hook sees what the one before left,
/// the broker routes the result, STOP and invalid rewrites drop (counted, told to
/// `message_dropped`), and an unchanged message stays the same object.
final class MessagePublishHookTests: KernelTestCase {
    private func install(_ change: @escaping (inout HookChains, HookOwner) -> Void) async {
        let owner = broker.hooks.makeOwner(name: "swift")
        await broker.hooks.update { change(&$0, owner) }
    }

    /// Publishes on the broker's loop; returns the number of sessions reached.
    private func route(_ message: Message, source: MessageSource = .client) throws -> Int {
        try broker.contexts[0].loop.submit { [broker] in
            broker!.publish(message, from: broker!.contexts[0], source: source)
        }.wait()
    }

    func testHooksChainTheirRewritesAndTheResultIsRouted() async throws {
        let session = makeSession("s")
        try session.onLoop { _ = session.addSubscription("b/final", options: SubscriptionOptions(qos: .exactlyOnce)) }
        let seen = NIOLockedValueBox<[String]>([])
        await install { chains, owner in
            chains.messagePublish.add({ request in
                seen.withLockedValue { $0.append("first saw \(request.topic) from \(request.source)") }
                request.topic = "b/final"
                request.payload = ByteBuffer(string: "changed")
                return .ok
            }, priority: 1, owner: owner)
            chains.messagePublish.add({ request in
                seen.withLockedValue { $0.append("second saw \(request.topic) \(String(buffer: request.payload))") }
                return .ok
            }, priority: 0, owner: owner)
        }
        XCTAssertEqual(try route(message("a/original", qos: .atMostOnce), source: .will), 1)
        XCTAssertEqual(seen.withLockedValue { $0 }, ["first saw a/original from will", "second saw b/final changed"])
        XCTAssertEqual(try session.queuedPayloads(), ["changed"])
    }

    func testStopAndInvalidRewritesDropAndAreReported() async throws {
        let session = makeSession("s")
        try session.onLoop { _ = session.addSubscription("#", options: SubscriptionOptions(qos: .atLeastOnce)) }
        let reported = NIOLockedValueBox<[String]>([])
        let later = NIOLockedValueBox(0)
        await install { chains, owner in
            chains.messagePublish.add({ request in
                if request.topic == "stop" { return .stop }
                if request.topic == "wild" { request.topic = "a/+/b" }
                if request.topic == "dollar" { request.topic = "$internal/x" }
                return .ok
            }, priority: 1, owner: owner)
            chains.messagePublish.add({ _ in
                later.withLockedValue { $0 += 1 }
                return .ok
            }, priority: 0, owner: owner)
            chains.messageDropped.add({ notice in
                reported.withLockedValue { $0.append("\(notice.reason.name) \(notice.message.topic)") }
            }, priority: 0, owner: owner)
        }
        XCTAssertEqual(try route(message("stop")), 0)
        XCTAssertEqual(try route(message("wild")), 0)
        XCTAssertEqual(try route(message("dollar")), 0)
        XCTAssertEqual(later.withLockedValue { $0 }, 0, "the chain ends at a STOP or an invalid rewrite")
        XCTAssertEqual(try route(message("fine")), 1)
        XCTAssertEqual(later.withLockedValue { $0 }, 1)
        XCTAssertEqual(reported.withLockedValue { $0 }, ["denied_by_hook stop", "invalid_rewrite wild", "invalid_rewrite dollar"])
        XCTAssertEqual(drops(.deniedByHook), 1)
        XCTAssertEqual(drops(.invalidRewrite), 2)
        XCTAssertEqual(try session.queuedPayloads(), ["x"])
    }

    func testAHookThatChangesNothingRoutesTheSameMessageObject() async throws {
        let session = makeSession("s")
        try session.onLoop { _ = session.addSubscription("t", options: SubscriptionOptions(qos: .atLeastOnce)) }
        await install { chains, owner in chains.messagePublish.add({ _ in .ok }, priority: 0, owner: owner) }
        let original = message("t")
        XCTAssertEqual(try route(original), 1)
        let queued = try session.onLoop {
            (Mirror(reflecting: session).descendant("queue") as? CircularBuffer<PendingMessage>)?.first?.message
        }
        XCTAssertTrue(queued === original)
    }
}
