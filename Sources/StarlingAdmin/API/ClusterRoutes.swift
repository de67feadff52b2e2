import NIOHTTP1
import StarlingKernel

/// `GET /cluster`, `POST /cluster/join`, `POST /cluster/leave`: membership. A node without a
/// cookie answers the status (enabled: false) and refuses join with 409.
enum ClusterRoutes {
    static func routes(_ context: AdminContext) -> [AdminRoute] {
        [
            AdminRoute(.GET, "/api/v1/cluster") { request in
                try request.query.rejectUnknown([])
                return .json(await status(context))
            },
            AdminRoute(.POST, "/api/v1/cluster/join") { request in
                try request.query.rejectUnknown([])
                let fields = try JSONFields(JSONValue.parse(request.body))
                try fields.rejectUnknown(["node", "timeout"])
                let node = try fields.requiredString("node")
                let timeout = try fields.int("timeout", in: 1...300) ?? 10
                guard let cluster = context.cluster else {
                    throw APIError(.conflict, code: "NOT_CLUSTERED",
                                   "\(context.node.nodeDescription.name) has no cluster cookie: start it with --cookie (cluster.cookie)")
                }
                do throws(ClusterJoinError) {
                    return .json(try await cluster.join(node: node, timeoutSeconds: Double(timeout)))
                } catch {
                    throw APIError(status(for: error.kind), code: error.kind.rawValue.uppercased(), error.message)
                }
            },
            AdminRoute(.POST, "/api/v1/cluster/leave") { request in
                try request.query.rejectUnknown([])
                guard let cluster = context.cluster else { return .json(await status(context)) }
                return .json(await cluster.leave())
            },
        ]
    }

    private static func status(_ context: AdminContext) async -> ClusterStatus {
        if let cluster = context.cluster { return await cluster.status() }
        return ClusterStatus(node: context.node.nodeDescription.name, enabled: false, clusterPort: 0, localRoutes: 0,
                             remoteRoutes: 0, members: [])
    }

    private static func status(for kind: ClusterJoinError.Kind) -> HTTPResponseStatus {
        switch kind {
        case .badNode: .badRequest
        case .notClustered, .nameClash: .conflict
        case .wrongCookie, .refused: .forbidden
        case .unreachable: .badGateway
        case .timeout: .gatewayTimeout
        }
    }
}
