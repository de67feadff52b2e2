import NIOCore
import StarlingKernel

/// `GET /status`, `/nodes`, `/stats`, `/metrics`, the Prometheus placeholder and `POST /reload`.
enum StatusRoutes {
    static func routes(_ context: AdminContext) -> [AdminRoute] {
        [
            AdminRoute(.GET, "/api/v1/status") { request in
                try request.query.rejectUnknown([])
                return .json(StatusJSON(context.node.nodeDescription))
            },
            AdminRoute(.GET, "/api/v1/nodes") { request in
                try request.query.rejectUnknown(Paging.parameterNames)
                return .json(try Paging(request.query).apply([NodeJSON(context.node.nodeDescription)]))
            },
            AdminRoute(.GET, "/api/v1/stats") { request in
                try request.query.rejectUnknown([])
                return .json(context.peaks.snapshot(context.broker))
            },
            AdminRoute(.GET, "/api/v1/metrics") { request in
                try request.query.rejectUnknown([])
                return .json(metrics(context))
            },
            AdminRoute(.POST, "/api/v1/reload") { request in
                try request.query.rejectUnknown([])
                do throws(ReloadError) {
                    return .json(try context.node.reload())
                } catch {
                    throw APIError(.badRequest, code: "BAD_CONFIG", error.message)
                }
            },
        ]
    }

    /// The kernel's counters and every provider's, by dotted name.
    static func metrics(_ context: AdminContext) -> [String: Int] {
        let stats = context.broker.stats
        var counters = [
            "messages.received": stats.messagesReceived,
            "messages.sent": stats.messagesSent,
            "messages.dropped": stats.droppedTotal,
            "bytes.received": stats.bytesReceived,
            "bytes.sent": stats.bytesSent,
            "packets.received": stats.packetsReceivedTotal,
            "packets.sent": stats.packetsSentTotal,
            "client.connects": stats.connects,
            "client.disconnects": stats.disconnectsTotal,
            "plugins.pending.open": stats.pendingOpen,
            "plugins.pending.timeouts": stats.pendingTimeouts,
        ]
        for (reason, count) in stats.dropped { counters["messages.dropped.\(reason)"] = count }
        for (type, count) in stats.packetsReceived { counters["packets.received.\(type)"] = count }
        for (type, count) in stats.packetsSent { counters["packets.sent.\(type)"] = count }
        for (reason, count) in stats.disconnects { counters["client.disconnects.\(reason)"] = count }
        for (result, count) in stats.authentications { counters["authentication.\(result)"] = count }
        for (action, results) in stats.authorizations {
            for (result, count) in results { counters["authorization.\(action).\(result)"] = count }
        }
        for sample in context.broker.pluginMetrics.samples {
            counters["plugin.\(sample.plugin).\(sample.name)"] = Int(sample.value)
        }
        for provider in context.metrics { counters.merge(provider()) { _, provided in provided } }
        return counters
    }
}

/// `GET /api/v1/status`.
struct StatusJSON: Encodable, Sendable {
    var node: String
    var status = "running"
    var version: String
    var uptimeSeconds: Int64

    init(_ node: NodeDescription) {
        self.node = node.name
        version = node.version
        uptimeSeconds = node.uptimeSeconds
    }
}

/// One node of `GET /api/v1/nodes`.
struct NodeJSON: Encodable, Sendable {
    var name: String
    var version: String
    var uptimeSeconds: Int64
    var status = "running"
    var listeners: [ListenerDescription]

    init(_ node: NodeDescription) {
        name = node.name
        version = node.version
        uptimeSeconds = node.uptimeSeconds
        listeners = node.listeners
    }
}
