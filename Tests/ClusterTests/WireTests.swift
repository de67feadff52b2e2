import NIOCore
import StarlingKernel
import XCTest
@testable import StarlingCluster

/// The node-to-node frames and the cookie proofs.
final class WireTests: XCTestCase {
    private func roundTrip(_ frame: Frame) throws -> Frame? {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        FrameCodec.encode(frame, into: &buffer)
        // A frame cut short is not read; whole, it is.
        var partial = buffer.getSlice(at: buffer.readerIndex, length: buffer.readableBytes - 1)!
        XCTAssertNil(try FrameCodec.decode(from: &partial))
        let decoded = try FrameCodec.decode(from: &buffer)
        XCTAssertEqual(buffer.readableBytes, 0)
        return decoded
    }

    func testEveryFrameRoundTrips() throws {
        let hello = Hello(name: "n1@127.0.0.1", incarnation: 42, port: 4371, nonce: HandshakeProof.nonce())
        var publishes = ByteBufferAllocator().buffer(capacity: 8)
        publishes.writeString("abc")
        let frames: [Frame] = [
            .hello(hello), .challenge(hello, proof: Array(repeating: 7, count: 32)), .proof(Array(repeating: 9, count: 32)),
            .welcome(members: [PeerAddress(name: "n2@h", port: 1)]), .refuse(.wrongCookie, message: "no"), .heartbeat,
            .members([PeerAddress(name: "n3@h", port: 4370)]), .routeSnapshot(filters: ["a/#", "b/+/c"]),
            .routeOps([RouteOp(add: true, filter: "x"), RouteOp(add: false, filter: "y/#")]),
            .forward(count: 1, publishes: publishes), .leave,
            .sharedForward(count: 1, publishes: publishes),
            .retained([RetainedEntry(topic: "r/a", time: 1_700_000_000_123, node: "n1@h", publish: publishes),
                       RetainedEntry(topic: "r/b", time: 7, node: "n2@h", publish: nil)]),
            .clientClaim(request: 1, clientId: "c1"), .clientHolder(request: 1, holder: "n2@h"),
            .clientHolder(request: 2, holder: ""), .clientSnapshot(["a", "b", ""]), .clientSnapshot([]),
            .clientRelease("c1"), .takeOver(request: .max, clientId: "c1", resume: true),
            .takeOver(request: 3, clientId: "c2", resume: false), .sessionState(request: 3, state: publishes),
            .sessionState(request: 4, state: nil),
        ]
        for frame in frames { XCTAssertEqual(try roundTrip(frame), frame) }
    }

    func testASharedForwardNamesItsGroup() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        FrameCodec.writeSharedHeader(SharedGroupKey(group: "g", filter: "a/+"), into: &buffer)
        buffer.writeString("rest")
        XCTAssertEqual(try FrameCodec.readSharedHeader(&buffer), SharedGroupKey(group: "g", filter: "a/+"))
        XCTAssertEqual(buffer.readString(length: buffer.readableBytes), "rest")
        var cut = ByteBufferAllocator().buffer(bytes: [0, 1, 0x67, 0, 9, 0x61])
        XCTAssertThrowsError(try FrameCodec.readSharedHeader(&cut))
    }

    func testAnUnknownVersionIsRefusedByName() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        FrameCodec.encode(.heartbeat, into: &buffer)
        buffer.setInteger(UInt8(9), at: 4)
        XCTAssertThrowsError(try FrameCodec.decode(from: &buffer)) { error in
            XCTAssertEqual((error as? FrameError)?.unsupportedVersion, 9)
            XCTAssertTrue("\(error)".contains("version 9"), "\(error)")
        }
    }

    func testAFrameTypeOfALaterReleaseIsSkippedWhole() throws {
        var buffer = ByteBufferAllocator().buffer(bytes: [0, 0, 0, 5, 1, 99, 0xAA, 0xBB, 0xCC, 0, 0, 0, 2, 1, 6])
        XCTAssertEqual(try FrameCodec.decode(from: &buffer), .unknown(type: 99))
        XCTAssertEqual(try FrameCodec.decode(from: &buffer), .heartbeat, "the next frame reads as usual")
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testGarbageIsAnErrorNotACrash() {
        for bytes: [UInt8] in [[0, 0, 0, 3, 1, 5, 1], [0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 1, 1],
                               [0, 0, 0, 8, 1, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1],
                               // a retained entry whose message length runs past the frame
                               [0, 0, 0, 22, 1, 12, 0, 0, 0, 1, 0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0x6E, 1, 0xFF]] {
            var buffer = ByteBufferAllocator().buffer(bytes: bytes)
            XCTAssertThrowsError(try FrameCodec.decode(from: &buffer), "\(bytes)")
        }
    }

    func testBeforeTheHandshakeFramesAreSmall() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        buffer.writeInteger(UInt32(1 << 20))
        XCTAssertThrowsError(try FrameCodec.decode(from: &buffer, maximumLength: Frame.maximumHandshakeLength))
        buffer.moveReaderIndex(to: 0)
        XCTAssertNil(try FrameCodec.decode(from: &buffer), "after the handshake, 1 MB is a frame still arriving")
    }

    func testProofsNeedTheCookieAndAreOneSided() {
        let dialer = Hello(name: "n1@h", incarnation: 1, port: 1, nonce: HandshakeProof.nonce())
        let acceptor = Hello(name: "n2@h", incarnation: 2, port: 2, nonce: HandshakeProof.nonce())
        let proof = HandshakeProof.make(cookie: "secret", side: .dialer, dialer: dialer, acceptor: acceptor)
        XCTAssertTrue(HandshakeProof.verify(proof, cookie: "secret", side: .dialer, dialer: dialer, acceptor: acceptor))
        XCTAssertFalse(HandshakeProof.verify(proof, cookie: "other", side: .dialer, dialer: dialer, acceptor: acceptor))
        XCTAssertFalse(HandshakeProof.verify(proof, cookie: "secret", side: .acceptor, dialer: dialer, acceptor: acceptor))
        var replayed = acceptor
        replayed.nonce = HandshakeProof.nonce()
        XCTAssertFalse(HandshakeProof.verify(proof, cookie: "secret", side: .dialer, dialer: dialer, acceptor: replayed))
        XCTAssertFalse(proof.contains(subsequence: Array("secret".utf8)))
    }
}

extension Array where Element: Equatable {
    fileprivate func contains(subsequence: [Element]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
