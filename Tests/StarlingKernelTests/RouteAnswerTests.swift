import MQTTCore
import XCTest
import StarlingTestSupport
@testable import StarlingKernel

/// One publish asks the router once and gets every destination: this node's sessions (clients'
/// and plugin subscriptions), other nodes, and shared groups wherever their members are. A
/// forward from another node asks a narrower question: this node's plain subscribers only.
final class RouteAnswerTests: RouterTestCase {
    private func route(_ topic: String, remote: FakeCluster?) -> Destinations {
        var destinations = Destinations()
        router.route(message(topic), cache: RouteCache(), remote: remote, loopIndex: 0, into: &destinations)
        return destinations
    }

    private func group(_ filter: String, nodes: [String]) -> RemoteSharedGroup {
        let (group, plain) = MQTTTopic.parseShared(filter)!
        return RemoteSharedGroup(key: SharedGroupKey(group: group, filter: plain), nodes: nodes)
    }

    func testWithoutAClusterTheAnswerIsThisNodesSessions() {
        let (a, b) = (makeSession("a"), makeSession("b"))
        router.subscribe([a], to: "t")
        router.subscribe([b], to: "$share/g/t")
        let answer = route("t", remote: nil)
        XCTAssertEqual(answer.sessions.map(\.session.clientId).sorted(), ["a", "b"])
        XCTAssertEqual(answer.nodes, [])
        XCTAssertEqual(answer.groupForwards.count, 0)
        XCTAssertEqual(answer.count, 2)
        XCTAssertFalse(answer.leavesThisNode)
    }

    func testOtherNodesAndTheirSharedGroupsAreInTheSameAnswer() {
        let a = makeSession("a")
        router.subscribe([a], to: "t")
        let cluster = FakeCluster()
        cluster.remoteNodes = ["t": ["n2", "n3"]]
        // Only other nodes hold members of this group: the message goes to one of them.
        cluster.remoteGroups = [group("$share/g/t", nodes: ["n4"])]
        let answer = route("t", remote: cluster)
        XCTAssertEqual(answer.sessions.map(\.session.clientId), ["a"])
        XCTAssertEqual(answer.nodes, ["n2", "n3"])
        XCTAssertEqual(answer.groupForwards.map { "\($0.node) \($0.group.routeFilter)" }, ["n4 $share/g/t"])
        XCTAssertEqual(answer.count, 4, "a publisher's acknowledgement counts every destination")
        XCTAssertTrue(answer.leavesThisNode)
    }

    func testASharedGroupWithMembersHereAndElsewhereGetsEachMessageOnce() {
        let local = makeSession("member-here")
        router.subscribe([local], to: "$share/g/t")
        let cluster = FakeCluster()
        cluster.remoteGroups = [group("$share/g/t", nodes: ["n2"])]
        // Round robin over [n2, this node]: n2, here, n2, here.
        var picks: [String] = []
        for _ in 0..<4 {
            let answer = route("t", remote: cluster)
            XCTAssertEqual(answer.sessions.count + answer.groupForwards.count, 1, "one member cluster-wide")
            picks.append(answer.groupForwards.first?.node ?? answer.sessions.first!.session.clientId)
        }
        XCTAssertEqual(picks, ["n2", "member-here", "n2", "member-here"])
    }

    func testAForwardReachesPlainSubscribersOnly() {
        let (a, b) = (makeSession("a"), makeSession("b"))
        router.subscribe([a], to: "t")
        router.subscribe([b], to: "$share/g/t")
        var sessions: [Delivery] = []
        router.routeForwarded(message("t"), cache: RouteCache(), into: &sessions)
        XCTAssertEqual(sessions.map(\.session.clientId), ["a"], "the publishing node dispatched the group")
    }

    func testBrokerPublishForwardsToTheNodesTheAnswerNamesAndAcknowledgesThemAll() throws {
        let cluster = FakeCluster()
        cluster.remoteNodes = ["t": ["n2"]]
        cluster.remoteGroups = [group("$share/g/t", nodes: ["n3"])]
        let context = broker.contexts[0]
        let counted = try context.loop.submit { () -> Int in
            context.cluster = cluster
            var destinations = -1
            self.broker.publish(message("t"), from: context) { destinations = $0 }
            return destinations
        }.wait()
        XCTAssertEqual(counted, 2)
        XCTAssertEqual(cluster.forwards, ["n2 t", "n3 t $share/g/t"])
    }

    func testTheReusedAnswerStartsEmptyForTheNextMessage() {
        var destinations = Destinations()
        destinations.sessions.append(Delivery(session: makeSession("a"), options: SubscriptionOptions(qos: .atMostOnce)))
        destinations.nodes = ["n2"]
        destinations.groupForwards.append(.init(node: "n3", group: SharedGroupKey(group: "g", filter: "t")))
        destinations.reset()
        XCTAssertEqual(destinations.count, 0)
        XCTAssertFalse(destinations.leavesThisNode)
    }
}
