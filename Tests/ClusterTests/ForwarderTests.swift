import NIOCore
import NIOEmbedded
import StarlingKernel
import XCTest
import StarlingTestSupport
@testable import StarlingCluster

/// Forwarding batched per loop tick, read off the peers' channels with `EmbeddedChannel`.
final class ForwarderTests: XCTestCase {
    private let loop = EmbeddedEventLoop()
    private let routes = RemoteRouteTable()
    private lazy var forwarder = Forwarder(routes: routes, loops: [loop])

    private func link(to peer: String) throws -> EmbeddedChannel {
        let channel = try connectedChannel(loop: loop)
        forwarder.links.withLockedValue { $0[peer] = PeerLink(channel: channel, dialled: true) }
        return channel
    }

    /// What the publish path does: asks for the nodes with a matching route, forwards to them.
    /// Returns how many nodes.
    @discardableResult
    private func forwardToMatchingNodes(_ message: Message, loopIndex: Int) -> Int {
        let nodes = forwarder.nodes(matching: message.topic, loopIndex: loopIndex)
        forwarder.forward(message, to: nodes, loopIndex: loopIndex)
        return nodes.count
    }

    func testOneTicksMessagesToAPeerLeaveAsOneForwardFrame() throws {
        routes.add("a/#", node: "n2@h")
        routes.add("a/1", node: "n3@h")
        let n2 = try link(to: "n2@h")
        let n3 = try link(to: "n3@h")
        XCTAssertEqual(forwardToMatchingNodes(message("a/1", "one"), loopIndex: 0), 2)
        XCTAssertEqual(forwardToMatchingNodes(message("a/2", "two"), loopIndex: 0), 1)
        XCTAssertEqual(forwardToMatchingNodes(message("b/1", "none"), loopIndex: 0), 0, "no route, no forward")
        XCTAssertEqual(try n2.sentFrames(), [], "written at the end of the tick")
        loop.run()
        let frames = try n2.sentFrames()
        guard case .forward(let count, let body)? = frames.first, frames.count == 1 else { return XCTFail("\(frames)") }
        XCTAssertEqual(count, 2)
        let sent = try publishes(in: body, shared: false)
        XCTAssertEqual(sent.map(\.topic), ["a/1", "a/2"], "in publishing order")
        XCTAssertEqual(sent.map(\.payload), ["one", "two"])
        guard case .forward(1, let other)? = try n3.sentFrames().first else { return XCTFail("n3 got nothing") }
        XCTAssertEqual(try publishes(in: other, shared: false).map(\.topic), ["a/1"])
        XCTAssertEqual(forwarder.stats(for: "n2@h").forwardedOut.load(ordering: .relaxed), 2)
        XCTAssertEqual(forwarder.stats(for: "n2@h").lost.load(ordering: .relaxed), 0)
    }

    func testASharedGroupForwardCarriesTheGroup() throws {
        let n2 = try link(to: "n2@h")
        let group = SharedGroupKey(group: "workers", filter: "jobs/+")
        forwarder.forward(message("jobs/1", "job"), to: "n2@h", for: group, loopIndex: 0)
        loop.run()
        let frames = try n2.sentFrames()
        guard case .sharedForward(1, let body)? = frames.first, frames.count == 1 else { return XCTFail("\(frames)") }
        let sent = try publishes(in: body, shared: true)
        XCTAssertEqual(sent.map(\.group), [group])
        XCTAssertEqual(sent.map(\.topic), ["jobs/1"])
        XCTAssertEqual(sent.map(\.payload), ["job"])
    }

    func testMessagesForAPeerWithoutALiveLinkAreCountedAsLost() throws {
        routes.add("a/#", node: "n3@h")
        let n2 = try link(to: "n2@h")
        XCTAssertEqual(forwardToMatchingNodes(message("a/1", "x"), loopIndex: 0), 1)
        XCTAssertEqual(forwardToMatchingNodes(message("a/2", "y"), loopIndex: 0), 1)
        loop.run()
        XCTAssertEqual(try n2.sentFrames(), [], "nothing goes to another peer")
        XCTAssertEqual(forwarder.stats(for: "n3@h").lost.load(ordering: .relaxed), 2)
        XCTAssertEqual(forwarder.stats(for: "n3@h").forwardedOut.load(ordering: .relaxed), 0)
        // A link that is not writable (a peer that stopped reading) loses them too.
        routes.add("c/#", node: "n2@h")
        n2.isWritable = false
        XCTAssertEqual(forwardToMatchingNodes(message("c/1", "z"), loopIndex: 0), 1)
        loop.run()
        XCTAssertEqual(try n2.sentFrames(), [])
        XCTAssertEqual(forwarder.stats(for: "n2@h").lost.load(ordering: .relaxed), 1)
    }
}
