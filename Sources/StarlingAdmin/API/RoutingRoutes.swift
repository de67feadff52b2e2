import StarlingKernel

/// `GET /subscriptions` (filtered by `clientid` and `topic`, paged) and `GET /routes` (paged).
enum RoutingRoutes {
    static func routes(_ context: AdminContext) -> [AdminRoute] {
        [
            AdminRoute(.GET, "/api/v1/subscriptions") { request in
                try request.query.rejectUnknown(["clientid", "topic"] + Paging.parameterNames)
                let paging = try Paging(request.query)
                let clientId = request.query["clientid"], topic = request.query["topic"]
                let subscriptions = await context.broker.subscriptions().filter { subscription in
                    (clientId == nil || subscription.clientId == clientId) && (topic == nil || subscription.filter == topic)
                }
                return .json(paging.apply(subscriptions.map(SubscriptionJSON.init)))
            },
            AdminRoute(.GET, "/api/v1/routes") { request in
                try request.query.rejectUnknown(Paging.parameterNames)
                let paging = try Paging(request.query)
                return .json(paging.apply(context.broker.routes().map { RouteJSON(topic: $0.filter, nodes: $0.nodes) }))
            },
        ]
    }
}
