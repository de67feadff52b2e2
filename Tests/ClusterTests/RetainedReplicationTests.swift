import Foundation
import MQTTCore
import NIOCore
import NIOPosix
import StarlingKernel
import XCTest
@testable import StarlingCluster
import StarlingTestSupport

/// Retained messages replicated between nodes converge by last writer wins, whatever the order.
final class RetainedReplicationTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 1) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    private func broker() -> Broker {
        Broker(settings: BrokerSettings(), group: group, logger: .quiet)
    }

    private func entry(_ topic: String, _ payload: String?, time: UInt64, node: String) -> RetainedEntry {
        let publish = payload.map { Forwarder.encode(message(topic, $0, retain: true)) }
        return RetainedEntry(topic: topic, time: time, node: node, publish: publish)
    }

    private func retained(_ broker: Broker) -> [String: String] {
        Dictionary(uniqueKeysWithValues: broker.retainedMessages().map { ($0.topic, String(decoding: $0.payload, as: UTF8.self)) })
    }

    func testEveryOrderOfArrivalEndsTheSame() {
        let changes = [entry("t", "old", time: 10, node: "n1@h"), entry("t", "new", time: 20, node: "n1@h"),
                       entry("t", "tie-winner", time: 20, node: "n2@h"), entry("u", "kept", time: 5, node: "n3@h"),
                       entry("u", nil, time: 4, node: "n2@h"), entry("v", "x", time: 1, node: "n1@h"),
                       entry("v", nil, time: 2, node: "n2@h")]
        for order in [changes, changes.reversed(), [changes[2], changes[6], changes[0], changes[4], changes[1], changes[5], changes[3]]] {
            let node = broker()
            XCTAssertEqual(RetainedReplicator.apply(order, to: node), [])
            XCTAssertEqual(retained(node), ["t": "tie-winner", "u": "kept"], "\(order.map(\.topic))")
        }
    }

    func testAnAttachedNodeStampsItsOwnChangesAndSnapshotsDeletes() throws {
        let node = broker()
        final class Recorder: ClusterAttachment, @unchecked Sendable {
            let name = "me@h"
            var changes: [(String, Bool, RetainedStamp)] = []
            func localRouteAdded(_ filter: String) {}
            func localRouteRemoved(_ filter: String) {}
            func nodes(matching topic: String, loopIndex: Int) -> [String] { [] }
            func forward(_ message: Message, to nodes: [String], loopIndex: Int) {}
            func remoteRoutes() -> [String: [String]] { [:] }
            func remoteSharedGroups(matching topic: String, loopIndex: Int) -> [RemoteSharedGroup] { [] }
            func forward(_ message: Message, to node: String, for group: SharedGroupKey, loopIndex: Int) {}
            func claimSession(_ clientId: String, resume: Bool, completion: @escaping @Sendable (MovedSession?) -> Void) {
                completion(nil)
            }
            func sessionReleased(_ clientId: String) {}
            func retainedChanged(topic: String, message: Message?, stamp: RetainedStamp) {
                changes.append((topic, message != nil, stamp))
            }
        }
        let recorder = Recorder()
        _ = node.attach(cluster: recorder)
        // A peer's change stamped far in the future: the local delete must still win locally.
        XCTAssertEqual(RetainedReplicator.apply([entry("t", "peer", time: UInt64.max / 2, node: "zz@h")], to: node), [])
        XCTAssertTrue(node.deleteRetained(topic: "t"))
        XCTAssertEqual(recorder.changes.count, 1)
        let (topic, present, stamp) = try XCTUnwrap(recorder.changes.first)
        XCTAssertEqual(topic, "t")
        XCTAssertFalse(present)
        XCTAssertEqual(stamp, RetainedStamp(time: UInt64.max / 2 + 1, node: "me@h"))
        // The delete travels in the snapshot as a tombstone, so an older copy elsewhere cannot return.
        let snapshot = RetainedReplicator.snapshot(of: node)
        XCTAssertEqual(snapshot, [RetainedEntry(topic: "t", time: UInt64.max / 2 + 1, node: "me@h", publish: nil)])
        XCTAssertEqual(RetainedReplicator.apply([entry("t", "stale", time: 99, node: "a@h")], to: node), [])
        XCTAssertEqual(retained(node), [:])
    }

    func testTombstonesAreForgottenAfterADay() {
        let node = broker()
        let dayAndASecondAgo = UInt64(Date().timeIntervalSince1970 * 1000) - 24 * 3600 * 1000 - 1000
        XCTAssertEqual(RetainedReplicator.apply([entry("old", "x", time: dayAndASecondAgo - 5, node: "a@h"),
                                                 entry("old", nil, time: dayAndASecondAgo, node: "a@h"),
                                                 entry("recent", nil, time: dayAndASecondAgo + 10_000, node: "a@h"),
                                                 entry("kept", "k", time: 1, node: "a@h")], to: node), [])
        node.pruneRetainedTombstones()
        XCTAssertEqual(RetainedReplicator.snapshot(of: node).map(\.topic).sorted(), ["kept", "recent"],
                       "an old message stays; only the day-old delete is forgotten")
    }

    func testABadMessageIsReportedNotStored() {
        let node = broker()
        var junk = ByteBufferAllocator().buffer(capacity: 4)
        junk.writeBytes([0x30, 0x05, 0x00])
        let bad = RetainedReplicator.apply([RetainedEntry(topic: "t", time: 1, node: "n@h", publish: junk),
                                            entry("other", "ok", time: 1, node: "n@h")], to: node)
        XCTAssertEqual(bad, ["t"])
        XCTAssertEqual(retained(node), ["other": "ok"])
    }
}
