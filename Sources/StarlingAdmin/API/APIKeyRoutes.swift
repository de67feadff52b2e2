/// `POST /api_keys` (the secret is in this answer only), `GET /api_keys`, `DELETE /api_keys/{name}`.
enum APIKeyRoutes {
    static func routes(_ context: AdminContext) -> [AdminRoute] {
        [
            AdminRoute(.POST, "/api/v1/api_keys") { request in
                try request.query.rejectUnknown([])
                let fields = try JSONFields(JSONValue.parse(request.body))
                try fields.rejectUnknown(["name"])
                return .json(try context.keys.create(name: try fields.requiredString("name")), status: .created)
            },
            AdminRoute(.GET, "/api/v1/api_keys") { request in
                try request.query.rejectUnknown(Paging.parameterNames)
                return .json(try Paging(request.query).apply(context.keys.list()))
            },
            AdminRoute(.DELETE, "/api/v1/api_keys/{name}") { request in
                try request.query.rejectUnknown([])
                let name = request.parameter("name")
                guard try context.keys.delete(name: name) else { throw APIError.notFound("no API key '\(name)'") }
                return .noContent
            },
        ]
    }
}
