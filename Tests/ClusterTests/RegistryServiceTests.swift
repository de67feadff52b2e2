import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import XCTest
@testable import StarlingCluster

/// The members as the registry sees them: fixed links over `EmbeddedChannel`s.
private final class FakeDirectory: PeerDirectory, @unchecked Sendable {
    var byName: [String: PeerLink] = [:]
    var links: [PeerLink] { Array(byName.values) }
    func link(of peer: String) -> PeerLink? { byName[peer] }
    var upNodes: [String] { ["n1@h"] + byName.keys.sorted() }
}

/// The client registry's requests and answers between nodes, frames in and out.
final class RegistryServiceTests: XCTestCase {
    private let loop = EmbeddedEventLoop()
    private lazy var kernel = FakeKernel(loop: loop)
    private let directory = FakeDirectory()
    private let n2 = PeerIdentity(address: PeerAddress(name: "n2@h", port: 4371), incarnation: 2)
    private var channel: EmbeddedChannel!
    private var link: PeerLink!
    private lazy var service = RegistryService(name: "n1@h", loop: loop, kernel: kernel, peers: directory,
                                               timeout: .seconds(2), logger: recordingLogger().0)

    override func setUpWithError() throws {
        channel = try connectedChannel(loop: loop)
        link = PeerLink(channel: channel, dialled: true)
        directory.byName["n2@h"] = link
    }

    /// A client id whose owner among n1 and n2 is `owner`.
    private func id(ownedBy owner: String, _ index: Int = 0) -> String {
        var found = 0
        for number in 0... {
            let clientId = "client-\(number)"
            guard ClientRegistry.owner(of: clientId, among: ["n1@h", "n2@h"]) == owner else { continue }
            if found == index { return clientId }
            found += 1
        }
        fatalError("unreachable")
    }

    func testAClaimForAnIdThisNodeOwnsIsAnsweredWithItsHolder() throws {
        let mine = id(ownedBy: "n1@h")
        let holders = NIOLockedValueBox<[String?]>([])
        service.claim(mine) { holder in holders.withLockedValue { $0.append(holder) } }
        loop.run()
        XCTAssertEqual(holders.withLockedValue { $0 }, [nil], "claimed here first, without asking anyone")
        XCTAssertEqual(try channel.sentFrames(), [])
        service.received(.clientClaim(request: 7, clientId: mine), from: n2, link: link)
        XCTAssertEqual(try channel.sentFrames(), [.clientHolder(request: 7, holder: "n1@h")])
        service.received(.clientClaim(request: 8, clientId: mine), from: n2, link: link)
        XCTAssertEqual(try channel.sentFrames(), [.clientHolder(request: 8, holder: "n2@h")], "n2 holds it now")
        XCTAssertEqual(service.count, 1)
    }

    func testATakeOverRequestAnswersWithTheKernelsSessionState() throws {
        kernel.sessionState = ByteBuffer(string: "STATE")
        service.received(.takeOver(request: 9, clientId: "c", resume: true), from: n2, link: link)
        XCTAssertEqual(try channel.sentFrames(), [.sessionState(request: 9, state: ByteBuffer(string: "STATE"))])
        XCTAssertEqual(kernel.surrendered.map(\.clientId), ["c"])
        XCTAssertEqual(kernel.surrendered.map(\.resume), [true])
        // A frame from a link that is not the peer's current one is ignored.
        let stale = PeerLink(channel: try connectedChannel(loop: loop), dialled: false)
        service.received(.takeOver(request: 10, clientId: "d", resume: false), from: n2, link: stale)
        XCTAssertEqual(kernel.surrendered.count, 1)
    }

    func testAnswersResolveThePendingRequests() throws {
        let theirs = id(ownedBy: "n2@h")
        let results = NIOLockedValueBox<[String]>([])
        service.claim(theirs) { holder in results.withLockedValue { $0.append("holder \(holder ?? "-")") } }
        service.takeOver(theirs, from: "n2@h", resume: false) { state in
            results.withLockedValue { $0.append("state \(state.map { String(buffer: $0) } ?? "-")") }
        }
        loop.run()
        let sent = try channel.sentFrames()
        guard sent.count == 2, case .clientClaim(let claim, theirs) = sent[0], case .takeOver(let takeOver, theirs, false) = sent[1] else {
            return XCTFail("\(sent)")
        }
        XCTAssertEqual(results.withLockedValue { $0 }, [], "waiting for the answers")
        service.received(.sessionState(request: takeOver, state: ByteBuffer(string: "S")), from: n2, link: link)
        service.received(.clientHolder(request: claim, holder: "n3@h"), from: n2, link: link)
        service.received(.clientHolder(request: claim, holder: "n4@h"), from: n2, link: link)
        XCTAssertEqual(results.withLockedValue { $0 }, ["state S", "holder n3@h"], "each answered once")
    }

    func testClaimingASessionHeldOnAnotherNodeBringsItsStateBack() throws {
        let theirs = id(ownedBy: "n2@h")
        let moved = NIOLockedValueBox<[String]>([])
        service.claimSession(theirs, resume: true) { session in
            moved.withLockedValue { $0.append(session.map { "\($0.from) \(String(buffer: $0.state))" } ?? "-") }
        }
        loop.run()
        guard case .clientClaim(let claim, theirs)? = try channel.sentFrames().first else { return XCTFail("no claim sent") }
        // n2 owns the id and says n2 itself holds it: the take-over goes to n2.
        service.received(.clientHolder(request: claim, holder: "n2@h"), from: n2, link: link)
        loop.run()
        guard case .takeOver(let takeOver, theirs, true)? = try channel.sentFrames().first else {
            return XCTFail("no take-over sent")
        }
        XCTAssertEqual(moved.withLockedValue { $0 }, [], "waiting for the state")
        service.received(.sessionState(request: takeOver, state: ByteBuffer(string: "S")), from: n2, link: link)
        XCTAssertEqual(moved.withLockedValue { $0 }, ["n2@h S"])
    }

    func testACleanStartClaimDoesNotWaitAndDiscardsTheSessionElsewhere() throws {
        let theirs = id(ownedBy: "n2@h")
        let answered = NIOLockedValueBox<[Bool]>([])
        service.claimSession(theirs, resume: false) { session in answered.withLockedValue { $0.append(session == nil) } }
        XCTAssertEqual(answered.withLockedValue { $0 }, [true], "answered at once, with no state")
        loop.run()
        guard case .clientClaim(let claim, theirs)? = try channel.sentFrames().first else { return XCTFail("no claim sent") }
        service.received(.clientHolder(request: claim, holder: "n2@h"), from: n2, link: link)
        loop.run()
        guard case .takeOver(_, theirs, false)? = try channel.sentFrames().first else {
            return XCTFail("the session on n2 is not discarded")
        }
        XCTAssertEqual(answered.withLockedValue { $0 }, [true])
    }

    func testClaimingAnIdHeldHereOrNowhereBringsNothing() throws {
        let mine = id(ownedBy: "n1@h")
        let moved = NIOLockedValueBox<[Bool]>([])
        for _ in 0..<2 {
            service.claimSession(mine, resume: true) { session in moved.withLockedValue { $0.append(session == nil) } }
            loop.run()
        }
        XCTAssertEqual(moved.withLockedValue { $0 }, [true, true], "nobody held it, then this node did")
        XCTAssertEqual(try channel.sentFrames(), [], "no frame: this node owns the id")
    }

    func testARequestNotAnsweredInTimeEndsWithoutAnAnswer() throws {
        let theirs = id(ownedBy: "n2@h")
        let results = NIOLockedValueBox<[String?]>([])
        service.claim(theirs) { holder in results.withLockedValue { $0.append(holder) } }
        loop.run()
        guard case .clientClaim(let request, _)? = try channel.sentFrames().first else { return XCTFail("no claim sent") }
        loop.advanceTime(by: .milliseconds(1999))
        XCTAssertEqual(results.withLockedValue { $0.count }, 0)
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertEqual(results.withLockedValue { $0 }, [nil])
        service.received(.clientHolder(request: request, holder: "n3@h"), from: n2, link: link)
        XCTAssertEqual(results.withLockedValue { $0 }, [nil], "a late answer is ignored")
    }

    func testANodeGoingDownTakesItsEntriesAndEndsItsRequests() throws {
        let mine = [id(ownedBy: "n1@h", 0), id(ownedBy: "n1@h", 1)]
        service.received(.clientSnapshot(mine), from: n2, link: link)
        XCTAssertEqual(service.count, 2)
        let results = NIOLockedValueBox<[String?]>([])
        service.claim(id(ownedBy: "n2@h")) { holder in results.withLockedValue { $0.append(holder) } }
        loop.run()
        _ = try channel.sentFrames()
        directory.byName["n2@h"] = nil
        XCTAssertEqual(service.forget("n2@h"), 2)
        XCTAssertEqual(service.count, 0)
        XCTAssertEqual(results.withLockedValue { $0 }, [nil], "its open request ended at once")
    }

    func testResyncTellsEachOwnerTheIdsThisNodeHolds() throws {
        let theirs = [id(ownedBy: "n2@h", 0), id(ownedBy: "n2@h", 1)]
        let mine = id(ownedBy: "n1@h")
        kernel.clientIds = theirs + [mine]
        service.resync()
        XCTAssertEqual(try channel.sentFrames(), [.clientSnapshot(theirs)])
        XCTAssertEqual(service.count, 1, "this node's own entry for the id it owns")
    }
}
