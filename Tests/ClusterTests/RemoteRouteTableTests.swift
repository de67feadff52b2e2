import NIOCore
import XCTest
@testable import StarlingKernel
@testable import StarlingCluster

/// The other nodes' routes: matching, replacing and purging.
final class RemoteRouteTableTests: XCTestCase {
    private func nodes(_ table: RemoteRouteTable, _ topic: String) -> [String] {
        var result: [String] = []
        table.nodes(matching: topic, into: &result)
        return result.sorted()
    }

    func testMatchingFollowsMQTTWildcards() {
        let table = RemoteRouteTable()
        XCTAssertTrue(table.isEmpty)
        table.add("a/b", node: "n2")
        table.add("a/+", node: "n3")
        table.add("#", node: "n4")
        table.add("a/#", node: "n2")
        XCTAssertFalse(table.isEmpty)
        XCTAssertEqual(nodes(table, "a/b"), ["n2", "n3", "n4"])
        XCTAssertEqual(nodes(table, "a"), ["n2", "n4"])
        XCTAssertEqual(nodes(table, "a/c/d"), ["n2", "n4"])
        XCTAssertEqual(nodes(table, "b"), ["n4"])
        XCTAssertEqual(nodes(table, "$SYS/x"), [], "a leading wildcard never matches a $ topic")
    }

    func testRemoveReplaceAndPurge() {
        let table = RemoteRouteTable()
        XCTAssertTrue(table.add("a/b", node: "n2"))
        XCTAssertFalse(table.add("a/b", node: "n2"))
        table.add("c", node: "n2")
        table.add("a/b", node: "n3")
        XCTAssertTrue(table.remove("a/b", node: "n2"))
        XCTAssertFalse(table.remove("a/b", node: "n2"))
        XCTAssertEqual(nodes(table, "a/b"), ["n3"])
        table.replace(node: "n2", with: ["x/#"])
        XCTAssertEqual(table.all(), ["x/#": ["n2"], "a/b": ["n3"]])
        XCTAssertEqual(table.purge(node: "n3"), 1)
        XCTAssertEqual(nodes(table, "a/b"), [])
        XCTAssertEqual(table.purge(node: "n2"), 1)
        XCTAssertTrue(table.isEmpty)
    }

    private func groups(_ table: RemoteRouteTable, _ topic: String) -> [String] {
        var result: [RemoteSharedGroup] = []
        table.sharedGroups(matching: topic, into: &result)
        return result.map { "\($0.key.routeFilter)=\($0.nodes.joined(separator: ","))" }.sorted()
    }

    func testSharedGroupsAreKeptApartWithTheirNodes() {
        let table = RemoteRouteTable()
        table.add("$share/g/a/+", node: "n3")
        table.add("$share/g/a/+", node: "n2")
        table.add("$share/h/a/#", node: "n2")
        table.add("$queue/a/b", node: "n4")
        XCTAssertTrue(table.isEmpty, "no plain route: plain forwarding is skipped")
        XCTAssertFalse(table.hasNoSharedGroups)
        XCTAssertEqual(nodes(table, "a/b"), [], "a shared group is not a plain route")
        XCTAssertEqual(groups(table, "a/b"), ["$queue/a/b=n4", "$share/g/a/+=n2,n3", "$share/h/a/#=n2"])
        XCTAssertEqual(groups(table, "a"), ["$share/h/a/#=n2"])
        XCTAssertEqual(table.all()["$share/g/a/+"]?.sorted(), ["n2", "n3"])
        // Round robin continues where it was when the group's nodes change.
        var found: [RemoteSharedGroup] = []
        table.sharedGroups(matching: "a/c", into: &found)
        let before = found.first { $0.key.group == "g" }!
        let message = Message(topic: "a/c", payload: ByteBuffer(), qos: .atMostOnce, retain: false, publisherId: nil)
        // Round robin over the group's nodes, this node (nil) last when it holds members too.
        XCTAssertEqual((0..<3).map { _ in before.pickNode(includingThisNode: true, message, .roundRobin) },
                       ["n2", "n3", nil])
        table.remove("$share/g/a/+", node: "n3")
        XCTAssertEqual(groups(table, "a/b"), ["$queue/a/b=n4", "$share/g/a/+=n2", "$share/h/a/#=n2"])
        found.removeAll()
        table.sharedGroups(matching: "a/c", into: &found)
        XCTAssertEqual(found.first { $0.key.group == "g" }!.position, 3)
        XCTAssertEqual(table.purge(node: "n2"), 2)
        XCTAssertEqual(groups(table, "a/b"), ["$queue/a/b=n4"])
        XCTAssertEqual(table.purge(node: "n4"), 1)
        XCTAssertTrue(table.hasNoSharedGroups)
        XCTAssertEqual(groups(table, "a/b"), [])
    }
}
