import NIOCore
import NIOPosix
import XCTest
@testable import StarlingCluster

/// The client registry's owner choice and the rules of its entries.
final class ClientRegistryTests: XCTestCase {
    func testEveryNodePicksTheSameOwnerAndAJoiningNodeTakesOnlyWhatItGains() {
        let three = ["n1@h", "n2@h", "n3@h"]
        let ids = (0..<3000).map { "client-\($0)" }
        let owners = ids.map { ClientRegistry.owner(of: $0, among: three) }
        XCTAssertEqual(owners, ids.map { ClientRegistry.owner(of: $0, among: three.reversed()) }, "order does not matter")
        for node in three {
            let share = owners.filter { $0 == node }.count
            XCTAssertTrue((800...1200).contains(share), "\(node) owns \(share) of 3000")
        }
        let four = three + ["n4@h"]
        for (id, before) in zip(ids, owners) {
            let after = ClientRegistry.owner(of: id, among: four)
            XCTAssertTrue(after == before || after == "n4@h", "\(id) moved from \(before) to \(after)")
        }
        // Stable across processes (no per-process seed): a fixed answer.
        XCTAssertEqual(ClientRegistry.owner(of: "sensor-17", among: three),
                       ClientRegistry.owner(of: "sensor-17", among: ["n3@h", "n1@h", "n2@h"]))
    }

    func testClaimsAreOrderedAndSnapshotsNeverUndoAClaim() {
        let registry = ClientRegistry()
        XCTAssertNil(registry.claim("c", by: "a"))
        XCTAssertEqual(registry.claim("c", by: "b"), "a", "the second claimant learns the first")
        XCTAssertEqual(registry.claim("c", by: "c"), "b")
        registry.release("c", by: "b")
        XCTAssertEqual(registry.holder(of: "c"), "c", "a release from a node that lost the id changes nothing")
        // a's snapshot was taken before c took the id: the claim stands; a's other ids are set.
        registry.replace(node: "a", with: ["c", "d"])
        XCTAssertEqual(registry.holder(of: "c"), "c")
        XCTAssertEqual(registry.holder(of: "d"), "a")
        registry.replace(node: "a", with: [])
        XCTAssertNil(registry.holder(of: "d"), "what a no longer lists goes")
        XCTAssertEqual(registry.purge(node: "c"), 1)
        XCTAssertEqual(registry.count, 0)
    }

    func testARequestEndsOnceWithItsAnswerATimeoutOrItsPeerGoingDown() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let results = try loop.submit { () -> [String] in
            let registry = ClientRegistry()
            var seen: [String] = []
            let answered = registry.expect(from: "p", timeout: .seconds(10), on: loop) { answer in
                if case .holder(let node) = answer { seen.append("holder \(node ?? "-")") }
            }
            registry.answer(answered, from: "q", with: .holder("x"))  // not q's request: ignored
            registry.answer(answered, from: "p", with: .holder("x"))
            registry.answer(answered, from: "p", with: .holder("y"))  // a second answer: ignored
            _ = registry.expect(from: "p", timeout: .seconds(10), on: loop) { answer in
                if case .none = answer { seen.append("abandoned") }
            }
            registry.abandon(peer: "p")
            return seen
        }.wait()
        XCTAssertEqual(results, ["holder x", "abandoned"])
        let timedOut = loop.makePromise(of: Bool.self)
        loop.execute {
            let registry = ClientRegistry()
            _ = registry.expect(from: "p", timeout: .milliseconds(20), on: loop) { answer in
                if case .none = answer { timedOut.succeed(true) } else { timedOut.succeed(false) }
            }
        }
        XCTAssertTrue(try timedOut.futureResult.wait())
    }
}
