import StarlingKernel

/// `GET /clients` (filtered, paged), `GET /clients/{clientid}`, `DELETE /clients/{clientid}`.
enum ClientRoutes {
    static let filterNames = ["clientid_prefix", "username", "ip", "proto_ver", "connected"]

    static func routes(_ context: AdminContext) -> [AdminRoute] {
        [
            AdminRoute(.GET, "/api/v1/clients") { request in
                try request.query.rejectUnknown(filterNames + Paging.parameterNames)
                let paging = try Paging(request.query)
                let filter = try ClientFilter(request.query)
                let clients = await context.broker.clients().map(ClientJSON.init).filter(filter.matches)
                return .json(paging.apply(clients))
            },
            AdminRoute(.GET, "/api/v1/clients/{clientid}") { request in
                try request.query.rejectUnknown([])
                let clientId = request.parameter("clientid")
                guard let (info, subscriptions) = await context.broker.client(clientId) else {
                    throw APIError.notFound("no client '\(clientId)'")
                }
                return .json(ClientDetailJSON(client: ClientJSON(info), subscriptions: subscriptions.map(SubscriptionJSON.init)))
            },
            AdminRoute(.DELETE, "/api/v1/clients/{clientid}") { request in
                try request.query.rejectUnknown([])
                let clientId = request.parameter("clientid")
                guard await context.broker.kick(clientId) else { throw APIError.notFound("no client '\(clientId)'") }
                return .noContent
            },
        ]
    }
}

/// The filters of `GET /clients`; an absent one matches every client.
struct ClientFilter: Sendable {
    var clientIdPrefix: String?
    var username: String?
    var ip: String?
    var protocolVersion: String?
    var connected: Bool?

    init(_ query: QueryParameters) throws(APIError) {
        clientIdPrefix = query["clientid_prefix"]
        username = query["username"]
        ip = query["ip"]
        protocolVersion = try query.choice("proto_ver", ["3.1", "3.1.1", "5.0"])
        connected = try query.bool("connected")
    }

    func matches(_ client: ClientJSON) -> Bool {
        (clientIdPrefix.map { client.clientid.hasPrefix($0) } ?? true)
            && (username.map { client.username == $0 } ?? true)
            && (ip.map { client.ip == $0 } ?? true)
            && (protocolVersion.map { client.protoVer == $0 } ?? true)
            && (connected.map { client.connected == $0 } ?? true)
    }
}
