import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import StarlingKernel
import XCTest
import StarlingTestSupport
@testable import StarlingCluster

/// A node as a link sees it, recording what the link hands over.
private final class FakeLinkNode: LinkDelegate, @unchecked Sendable {
    let name = "n1@h"
    let cookie: String
    let logger: Logger
    let lines: NIOLockedValueBox<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>
    let fake: FakeKernel
    var kernel: any ClusterKernel { fake }
    var handshakeTimeout: TimeAmount { .seconds(3) }
    let mine = Hello(name: "n1@h", incarnation: 11, port: 4370, nonce: HandshakeProof.nonce())
    var admitted: [(link: PeerLink, peer: PeerIdentity)] = []
    var learnt: [[PeerAddress]] = []
    var closed: [PeerLink] = []
    var received: [Frame] = []
    let peerStats = PeerStats()
    let linkTLS: (any ClusterLinkTLS)?

    init(cookie: String = "secret", linkTLS: (any ClusterLinkTLS)? = nil, loop: EmbeddedEventLoop) {
        self.cookie = cookie
        self.linkTLS = linkTLS
        (logger, lines) = recordingLogger()
        fake = FakeKernel(loop: loop)
    }

    func hello() -> Hello { mine }
    func stats(for peer: String) -> PeerStats { peerStats }
    func admit(_ link: PeerLink, peer: PeerIdentity, decided: @escaping @Sendable ((RefuseReason, String)?) -> Void) {
        admitted.append((link, peer))
        decided(nil)
    }
    func learn(_ members: [PeerAddress]) { learnt.append(members) }
    func linkClosed(_ link: PeerLink) { closed.append(link) }
    func received(_ frame: Frame, from peer: PeerIdentity, link: PeerLink) { received.append(frame) }

    var messages: [String] { lines.withLockedValue { $0.map(\.message) } }
    var warnings: [String] { lines.withLockedValue { $0.filter { $0.level == .warning }.map(\.message) } }
}

/// A node's TLS that adds no handler and describes its own error only.
private struct FakeLinkTLS: ClusterLinkTLS {
    struct Refusal: Error {}

    func addAcceptorHandlers(to channel: Channel) throws {}
    func addDialerHandlers(to channel: Channel, peer: PeerAddress) throws {}
    func failureReason(_ error: any Error, dialling peer: PeerAddress?) -> String? {
        guard error is Refusal else { return nil }
        return peer.map { "refused dialling \($0.name)" } ?? "refused on an accepted link"
    }
}

/// One link's frames in and out, with `EmbeddedChannel`: the handshake from both sides, then the
/// established link's dispatch and forwarded deliveries.
final class LinkHandlerTests: XCTestCase {
    private let loop = EmbeddedEventLoop()
    private let peerHello = Hello(name: "n2@h", incarnation: 22, port: 4371, nonce: HandshakeProof.nonce())
    private let outcomes = NIOLockedValueBox<[String]>([])

    private func accepting(_ node: FakeLinkNode) throws -> EmbeddedChannel {
        try connectedChannel(LinkHandler(node: node, target: nil), loop: loop)
    }

    private func dialling(_ node: FakeLinkNode, target: PeerAddress = PeerAddress(name: "n2@h", port: 4371)) throws -> EmbeddedChannel {
        let outcomes = outcomes
        let handler = LinkHandler(node: node, target: target) { outcome in
            let text = switch outcome {
            case .joined: "joined"
            case .refused(let reason, let message): "refused \(reason): \(message)"
            case .insecure(let message): "insecure: \(message)"
            case .failed(let message): "failed: \(message)"
            }
            outcomes.withLockedValue { $0.append(text) }
        }
        return try connectedChannel(handler, loop: loop)
    }

    /// An accepted link taken through the whole handshake with the right cookie.
    private func established(_ node: FakeLinkNode) throws -> EmbeddedChannel {
        let channel = try accepting(node)
        try channel.receive(.hello(peerHello))
        guard case .challenge(let mine, _)? = try channel.sentFrames().first else { throw FrameError("no challenge") }
        try channel.receive(.proof(HandshakeProof.make(cookie: "secret", side: .dialer, dialer: peerHello, acceptor: mine)))
        XCTAssertEqual(node.admitted.count, 1)
        return channel
    }

    func testTheAcceptorChallengesChecksTheProofAndHandsTheLinkOn() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try accepting(node)
        XCTAssertEqual(try channel.sentFrames(), [], "the acceptor waits for the dialer's hello")
        try channel.receive(.hello(peerHello))
        let sent = try channel.sentFrames()
        XCTAssertEqual(sent.count, 1)
        guard case .challenge(let mine, let proof)? = sent.first else { return XCTFail("\(sent)") }
        XCTAssertEqual(mine, node.mine)
        XCTAssertTrue(HandshakeProof.verify(proof, cookie: "secret", side: .acceptor, dialer: peerHello, acceptor: mine))
        XCTAssertTrue(node.admitted.isEmpty)
        try channel.receive(.proof(HandshakeProof.make(cookie: "secret", side: .dialer, dialer: peerHello, acceptor: mine)))
        XCTAssertEqual(node.admitted.map(\.peer.address), [PeerAddress(name: "n2@h", port: 4371)])
        XCTAssertEqual(node.admitted.first?.peer.incarnation, 22)
        XCTAssertFalse(node.admitted[0].link.dialled)
        XCTAssertEqual(node.admitted[0].link.peer.load()?.address.name, "n2@h")
        XCTAssertEqual(try channel.sentFrames(), [], "the welcome is the node's to send, once it kept the link")
        XCTAssertTrue(channel.isActive)
    }

    func testTheDialerSaysHelloProvesItselfAndLearnsTheMembersOnWelcome() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try dialling(node)
        XCTAssertEqual(try channel.sentFrames(), [.hello(node.mine)])
        let proof = HandshakeProof.make(cookie: "secret", side: .acceptor, dialer: node.mine, acceptor: peerHello)
        try channel.receive(.challenge(peerHello, proof: proof))
        let sent = try channel.sentFrames()
        guard case .proof(let mine)? = sent.first, sent.count == 1 else { return XCTFail("\(sent)") }
        XCTAssertTrue(HandshakeProof.verify(mine, cookie: "secret", side: .dialer, dialer: node.mine, acceptor: peerHello))
        XCTAssertTrue(node.admitted.isEmpty, "not before the welcome")
        let n3 = PeerAddress(name: "n3@h", port: 4372)
        try channel.receive(.welcome(members: [n3]))
        XCTAssertEqual(node.admitted.map(\.peer.address.name), ["n2@h"])
        XCTAssertTrue(node.admitted[0].link.dialled)
        XCTAssertEqual(node.learnt, [[n3]])
        loop.run()
        XCTAssertEqual(outcomes.withLockedValue { $0 }, ["joined"])
    }

    func testAWrongCookieIsRefusedByNameAndCloses() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try accepting(node)
        try channel.receive(.hello(peerHello))
        guard case .challenge(let mine, _)? = try channel.sentFrames().first else { return XCTFail("no challenge") }
        try channel.receive(.proof(HandshakeProof.make(cookie: "other", side: .dialer, dialer: peerHello, acceptor: mine)))
        XCTAssertEqual(try channel.sentFrames(),
                       [.refuse(.wrongCookie, message: "n2@h's cookie proof does not match the cookie of n1@h")])
        XCTAssertFalse(channel.isActive)
        XCTAssertTrue(node.admitted.isEmpty)
        XCTAssertTrue(node.closed.isEmpty, "a link that never came up is not reported closed")
        XCTAssertTrue(node.messages.contains("cluster link refused: wrong cookie"), "\(node.messages)")
    }

    func testTheDialerRefusesAChallengeWithTheWrongCookie() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try dialling(node)
        _ = try channel.sentFrames()
        let proof = HandshakeProof.make(cookie: "other", side: .acceptor, dialer: node.mine, acceptor: peerHello)
        try channel.receive(.challenge(peerHello, proof: proof))
        XCTAssertEqual(try channel.sentFrames(),
                       [.refuse(.wrongCookie, message: "n2@h's cookie proof does not match the cookie of n1@h")])
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(outcomes.withLockedValue { $0 }, ["refused wrong cookie: n2@h's cookie proof does not match the cookie of n1@h"])
    }

    func testANameClashIsRefused() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try accepting(node)
        try channel.receive(.hello(Hello(name: "n1@h", incarnation: 5, port: 1, nonce: HandshakeProof.nonce())))
        XCTAssertEqual(try channel.sentFrames(), [.refuse(.nameClash, message: "n1@h is the name of the node it connected to")])
        XCTAssertFalse(channel.isActive)

        // A dialer that finds another node than the one it dialled.
        let dialler = try dialling(node, target: PeerAddress(name: "n9@h", port: 4371))
        _ = try dialler.sentFrames()
        try dialler.receive(.challenge(peerHello, proof: HandshakeProof.make(cookie: "secret", side: .acceptor,
                                                                              dialer: node.mine, acceptor: peerHello)))
        XCTAssertEqual(try dialler.sentFrames(), [.refuse(.nameClash, message: "the node at h:4371 is named n2@h, not n9@h")])
        XCTAssertTrue(node.admitted.isEmpty)
    }

    func testAnUnexpectedFrameBeforeTheHandshakeIsRefused() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try accepting(node)
        try channel.receive(.routeSnapshot(filters: ["a/#"]))
        XCTAssertEqual(try channel.sentFrames(), [.refuse(.malformed, message: "unexpected frame type 8 at this point of the link")])
        XCTAssertFalse(channel.isActive)
        XCTAssertTrue(node.received.isEmpty, "nothing is handed on before the handshake")
    }

    func testNoHandshakeInTimeClosesTheLink() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try dialling(node)
        loop.advanceTime(by: .milliseconds(2999))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(outcomes.withLockedValue { $0 }, ["failed: no handshake within 3000 ms"])
    }

    func testAnEstablishedLinkHandsFramesOnAndSkipsUnknownTypes() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try established(node)
        let n3 = PeerAddress(name: "n3@h", port: 4372)
        // A later release's frame type 99 (3 bytes of body), then frames this release knows.
        var buffer = channel.allocator.buffer(bytes: [0, 0, 0, 5, 1, 99, 0xAA, 0xBB, 0xCC])
        for frame: Frame in [.heartbeat, .routeSnapshot(filters: ["a/#"]), .routeOps([RouteOp(add: false, filter: "a/#")]),
                             .members([n3]), .clientClaim(request: 4, clientId: "c"), .leave] {
            FrameCodec.encode(frame, into: &buffer)
        }
        try channel.writeInbound(buffer)
        XCTAssertEqual(node.received, [.routeSnapshot(filters: ["a/#"]), .routeOps([RouteOp(add: false, filter: "a/#")]),
                                       .clientClaim(request: 4, clientId: "c"), .leave])
        XCTAssertEqual(node.learnt, [[n3]])
        XCTAssertEqual(try channel.sentFrames(), [], "nothing refused")
        XCTAssertTrue(channel.isActive)
        XCTAssertTrue(node.messages.contains("cluster: skipped a frame of a type this release does not know"))
        // A handshake frame on an established link is refused.
        try channel.receive(.hello(peerHello))
        XCTAssertEqual(try channel.sentFrames(), [.refuse(.malformed, message: "unexpected frame type 1 at this point of the link")])
        XCTAssertFalse(channel.isActive)
    }

    func testForwardFramesAreDeliveredToTheKernelAndCounted() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try established(node)
        var plain = channel.allocator.buffer(capacity: 64)
        for (topic, payload) in [("a/1", "one"), ("a/2", "two")] {
            var encoded = message(topic, payload).encodedForPeer()
            plain.writeBuffer(&encoded)
        }
        let group = SharedGroupKey(group: "g", filter: "s/+")
        var shared = channel.allocator.buffer(capacity: 64)
        FrameCodec.writeSharedHeader(group, into: &shared)
        var encoded = message("s/x", "three").encodedForPeer()
        shared.writeBuffer(&encoded)
        try channel.receive(.forward(count: 2, publishes: plain), .sharedForward(count: 1, publishes: shared))
        loop.run()
        XCTAssertEqual(node.fake.delivered.map(\.topic), ["a/1", "a/2", "s/x"])
        XCTAssertEqual(node.fake.delivered.map(\.payload), ["one", "two", "three"])
        XCTAssertEqual(node.fake.delivered.map(\.group), [nil, nil, group])
        XCTAssertEqual(node.peerStats.forwardedIn.load(ordering: .relaxed), 3)
        XCTAssertGreaterThanOrEqual(node.fake.flushes, 2)
        // The peer closing an established link is reported to the node.
        channel.close(promise: nil)
        XCTAssertEqual(node.closed.map(\.dialled), [false])
    }

    func testALargeForwardFrameIsDeliveredOverSeveralTurnsInOrder() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try established(node)
        let count = ForwardDelivery.deliveriesPerTurn * 2 + 5
        var plain = channel.allocator.buffer(capacity: 64)
        for index in 0..<count {
            var encoded = message("t/\(index)", "\(index)").encodedForPeer()
            plain.writeBuffer(&encoded)
        }
        try channel.receive(.forward(count: count, publishes: plain), .routeSnapshot(filters: ["after"]))
        XCTAssertEqual(node.fake.delivered.count, ForwardDelivery.deliveriesPerTurn, "one turn's worth first")
        XCTAssertEqual(node.received, [], "later frames wait for the delivery")
        loop.run()
        XCTAssertEqual(node.fake.delivered.map(\.topic), (0..<count).map { "t/\($0)" })
        XCTAssertEqual(node.received, [.routeSnapshot(filters: ["after"])])
    }

    func testARefusalFromThePeerEndsTheLink() throws {
        let node = FakeLinkNode(loop: loop)
        let channel = try dialling(node)
        _ = try channel.sentFrames()
        try channel.receive(.refuse(.wrongCookie, message: "no"))
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(outcomes.withLockedValue { $0.count }, 1, "the outcome is told once")
        let logged = node.lines.withLockedValue { $0 }.first { $0.message == "cluster link refused by the peer" }
        XCTAssertEqual(logged?.metadata["reason"], "wrong cookie")
        XCTAssertEqual(logged?.metadata["detail"], "no")
        XCTAssertEqual(logged?.metadata["peer"], "n2@h")
    }

    // MARK: - TLS on one side only, TLS failures

    func testAPlainNodeRefusesALinkThatSpeaksTLS() throws {
        let node = FakeLinkNode(loop: loop)
        let accepted = try accepting(node)
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xF4, 0x01, 0x00, 0x00, 0xF0, 0x03, 0x03]
        try accepted.writeInbound(ByteBuffer(bytes: clientHello.prefix(1)))
        XCTAssertTrue(accepted.isActive, "one byte does not tell yet")
        try accepted.writeInbound(ByteBuffer(bytes: clientHello.dropFirst()))
        XCTAssertFalse(accepted.isActive)
        // Plain bytes, which the dialer's TLS refuses as not TLS.
        XCTAssertEqual(try accepted.sentFrames(), [.refuse(.malformed, message: "n1@h does not speak TLS on its cluster links")])
        XCTAssertEqual(node.warnings, ["cluster: refused a link from 127.0.0.1:4370: it speaks TLS and this node has no "
                                       + "[cluster.ssl_options] (set it on every node or on none)"])

        // A dialled link answered by a TLS alert.
        let dialled = try dialling(node)
        _ = try dialled.sentFrames()
        try dialled.writeInbound(ByteBuffer(bytes: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))
        XCTAssertFalse(dialled.isActive)
        XCTAssertEqual(try dialled.sentFrames(), [])
        let line = "link to n2@h:4371 refused: the peer speaks TLS and this node has no [cluster.ssl_options] (set it on every node or on none)"
        XCTAssertEqual(outcomes.withLockedValue { $0 }, ["insecure: \(line)"])
        XCTAssertEqual(node.warnings.last, "cluster: \(line)")
        XCTAssertTrue(node.admitted.isEmpty)
    }

    func testTLSFailuresBeforeTheHandshakeAreLoggedWithTheReasonTheTLSGives() throws {
        let node = FakeLinkNode(linkTLS: FakeLinkTLS(), loop: loop)
        let accepted = try accepting(node)
        accepted.pipeline.fireErrorCaught(FakeLinkTLS.Refusal())
        XCTAssertFalse(accepted.isActive)
        XCTAssertEqual(node.warnings, ["cluster: refused a link from 127.0.0.1:4370: refused on an accepted link"])

        let dialled = try dialling(node)
        dialled.pipeline.fireErrorCaught(FakeLinkTLS.Refusal())
        XCTAssertFalse(dialled.isActive)
        let line = "link to n2@h:4371 failed its TLS handshake: refused dialling n2@h"
        XCTAssertEqual(outcomes.withLockedValue { $0 }, ["insecure: \(line)"])
        XCTAssertEqual(node.warnings.last, "cluster: \(line)")

        // An error the TLS does not describe closes the link without a warning.
        let other = try accepting(node)
        other.pipeline.fireErrorCaught(ChannelError.ioOnClosedChannel)
        XCTAssertFalse(other.isActive)
        XCTAssertEqual(node.warnings.count, 2)
        // Once the handshake is done, an error ends the link without a refusal's warning.
        let tlsNode = FakeLinkNode(linkTLS: FakeLinkTLS(), loop: loop)
        let link = try established(tlsNode)
        link.pipeline.fireErrorCaught(FakeLinkTLS.Refusal())
        XCTAssertFalse(link.isActive)
        XCTAssertEqual(tlsNode.warnings, [])
    }

    func testTwoHandshakesTalkToEachOther() {
        var dialer = LinkHandshake(name: "a@h", cookie: "k", target: PeerAddress(name: "b@h", port: 2))
        var acceptor = LinkHandshake(name: "b@h", cookie: "k", target: nil)
        let a = Hello(name: "a@h", incarnation: 1, port: 1, nonce: HandshakeProof.nonce())
        let b = Hello(name: "b@h", incarnation: 2, port: 2, nonce: HandshakeProof.nonce())
        guard case .send(let challenge) = acceptor.receive(dialer.start(a), hello: { b }),
              case .send(let proof) = dialer.receive(challenge, hello: { XCTFail("no second hello"); return a }) else {
            return XCTFail("handshake stopped early")
        }
        XCTAssertEqual(acceptor.receive(proof, hello: { b }), .establish(PeerAddress(name: "a@h", port: 1), incarnation: 1, members: nil))
        XCTAssertEqual(dialer.receive(.welcome(members: []), hello: { a }),
                       .establish(PeerAddress(name: "b@h", port: 2), incarnation: 2, members: []))
        XCTAssertTrue(dialer.isEstablished && acceptor.isEstablished)
    }
}
