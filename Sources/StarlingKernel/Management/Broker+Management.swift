import MQTTCore
import NIOCore

/// The operator's view of the kernel: what the HTTP API and `starling ctl` read and steer.
/// Every call is safe from any thread; session state is read on each session's own loop.
extension Broker {
    /// Every session, connected or not, sorted by client id.
    public func clients() async -> [ClientInfo] {
        let sessions = registry.all
        var infos: [ClientInfo] = []
        infos.reserveCapacity(sessions.count)
        for session in sessions {
            if let info = try? await session.loop.submit({ session.clientInfo }).get() { infos.append(info) }
        }
        return infos.sorted { $0.clientId < $1.clientId }
    }

    /// One session and its subscriptions, or nil when no session has this client id.
    public func client(_ clientId: String) async -> (info: ClientInfo, subscriptions: [SubscriptionInfo])? {
        guard let session = registry.session(for: clientId) else { return nil }
        return try? await session.loop.submit { (session.clientInfo, session.subscriptionInfos) }.get()
    }

    /// Disconnects a client (5.0: DISCONNECT 0x98) and discards its session. False when unknown.
    @discardableResult
    public func kick(_ clientId: String) async -> Bool {
        guard let session = registry.session(for: clientId) else { return false }
        try? await session.loop.submit { session.kick() }.get()
        return true
    }

    /// Every subscription of every session, sorted by client id then filter.
    public func subscriptions() async -> [SubscriptionInfo] {
        var all: [SubscriptionInfo] = []
        for session in registry.all {
            if let infos = try? await session.loop.submit({ session.subscriptionInfos }).get() {
                all.append(contentsOf: infos)
            }
        }
        return all.sorted { ($0.clientId, $0.filter) < ($1.clientId, $1.filter) }
    }

    /// The route table: each filter with at least one subscriber on this node or (in a cluster)
    /// another, and the nodes that hold them (sorted).
    public func routes() -> [RouteInfo] {
        var table: [String: [String]] = clusterBox.withLockedValue { $0 }?.remoteRoutes() ?? [:]
        let name = settings.nodeName
        for filter in router.filters() { table[filter, default: []].append(name) }
        return table.keys.sorted().map { RouteInfo(filter: $0, nodes: table[$0]!.sorted()) }
    }

    /// Unexpired retained messages, sorted by topic.
    public func retainedMessages() -> [RetainedInfo] {
        let now = NIODeadline.now()
        return retained.all.filter { !$0.isExpired(at: now) }.sorted { $0.topic < $1.topic }.map { message in
            RetainedInfo(topic: message.topic, payload: Array(message.payload.readableBytesView),
                         qos: Int(message.qos.rawValue), properties: message.properties,
                         expiresIn: message.expiresAt.map { ($0 - now).nanoseconds / 1_000_000_000 })
        }
    }

    /// Clears the retained message of `topic`; false when there was none.
    @discardableResult
    public func deleteRetained(topic: String) -> Bool {
        let (removed, stamp) = retained.remove(topic: topic)
        if let stamp { clusterBox.withLockedValue { $0 }?.retainedChanged(topic: topic, message: nil, stamp: stamp) }
        return removed
    }

    /// Publishes a message on behalf of the operator (no publisher client id). Returns the
    /// number of sessions it was handed to. Throws `PublishError` for an invalid topic.
    @discardableResult
    public func publish(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false,
                        properties: Properties = []) async throws -> Int {
        guard MQTTTopic.isValidName(topic), !topic.utf8.starts(with: "$".utf8) || topic.utf8.starts(with: "$SYS/".utf8) else {
            throw ManagementError.invalidTopic(topic)
        }
        let context = contexts[0]
        let publish = Publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        let message = Message(publish: publish, topic: topic, publisherId: nil, now: .now())
        return try await context.loop.submit { self.publish(message, from: context, source: .api) }.get()
    }
}

/// A management request the kernel refused, with a message naming the cause.
public enum ManagementError: Error, CustomStringConvertible, Equatable {
    case invalidTopic(String)

    public var description: String {
        switch self {
        case .invalidTopic(let topic):
            return "invalid topic '\(topic)': a topic name is non-empty, has no + or #, and does not start with $ (except $SYS/)"
        }
    }
}
