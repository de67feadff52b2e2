import XCTest
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
}
