import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
@testable import StarlingKernel

/// A `ClusterAttachment` that records the route stream and the forwards, and answers the router
/// with fixed other-node routes: what the kernel asks of the cluster, without a cluster.
final class FakeCluster: ClusterAttachment, @unchecked Sendable {
    let name = "test@127.0.0.1"
    /// The route stream as "+filter" / "-filter".
    let events = NIOLockedValueBox<[String]>([])
    /// Other nodes' plain routes: topic → nodes (exact topics, enough for a test).
    var remoteNodes: [String: [String]] = [:]
    /// Other nodes' shared groups matching every topic.
    var remoteGroups: [RemoteSharedGroup] = []
    /// Forwards as "node topic" (plain) or "node topic group" (for a shared group).
    private(set) var forwards: [String] = []

    func localRouteAdded(_ filter: String) { events.withLockedValue { $0.append("+\(filter)") } }
    func localRouteRemoved(_ filter: String) { events.withLockedValue { $0.append("-\(filter)") } }
    func nodes(matching topic: String, loopIndex: Int) -> [String] { remoteNodes[topic] ?? [] }
    func remoteSharedGroups(matching topic: String, loopIndex: Int) -> [RemoteSharedGroup] { remoteGroups }
    func remoteRoutes() -> [String: [String]] { remoteNodes }
    func forward(_ message: Message, to nodes: [String], loopIndex: Int) {
        forwards += nodes.map { "\($0) \(message.topic)" }
    }
    func forward(_ message: Message, to node: String, for group: SharedGroupKey, loopIndex: Int) {
        forwards.append("\(node) \(message.topic) \(group.routeFilter)")
    }
    func retainedChanged(topic: String, message: Message?, stamp: RetainedStamp) {}
    func claimSession(_ clientId: String, resume: Bool, completion: @escaping @Sendable (MovedSession?) -> Void) {
        completion(nil)
    }
    func sessionReleased(_ clientId: String) {}

    /// The route stream since the last call.
    func take() -> [String] { events.withLockedValue { events in defer { events = [] }; return events } }
}
