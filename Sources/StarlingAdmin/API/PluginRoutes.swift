/// `GET|POST /plugins`, `GET|DELETE /plugins/{plugin}`, `POST /plugins/{plugin}/reload`,
/// `POST /plugins/{plugin}/functions/{function}`: runtime plugin control. A refused plugin is a 400 with the loader's message; the node keeps serving.
enum PluginRoutes {
    static func routes(_ context: AdminContext) -> [AdminRoute] {
        guard let plugins = context.plugins else { return [] }
        return [
            AdminRoute(.GET, "/api/v1/plugins") { request in
                try request.query.rejectUnknown(Paging.parameterNames)
                return .json(try Paging(request.query).apply(await plugins.plugins()))
            },
            AdminRoute(.POST, "/api/v1/plugins") { request in
                try request.query.rejectUnknown([])
                let body = try PluginLoadRequest(JSONValue.parse(request.body))
                let loaded = try await answer { () throws(PluginControlError) in
                    try await plugins.load(path: body.path, name: body.name, options: body.options)
                }
                return .json(loaded, status: .created)
            },
            AdminRoute(.GET, "/api/v1/plugins/{plugin}") { request in
                try request.query.rejectUnknown([])
                let name = request.parameter("plugin")
                guard let plugin = await plugins.plugins().first(where: { $0.name == name }) else {
                    throw APIError.notFound("no plugin named \(name) is loaded")
                }
                return .json(plugin)
            },
            AdminRoute(.DELETE, "/api/v1/plugins/{plugin}") { request in
                try request.query.rejectUnknown([])
                let name = request.parameter("plugin")
                try await answer { () throws(PluginControlError) in try await plugins.unload(name: name) }
                return .noContent
            },
            AdminRoute(.POST, "/api/v1/plugins/{plugin}/reload") { request in
                try request.query.rejectUnknown([])
                let name = request.parameter("plugin")
                return .json(try await answer { () throws(PluginControlError) in try await plugins.reload(name: name) })
            },
            AdminRoute(.POST, "/api/v1/plugins/{plugin}/functions/{function}") { request in
                try request.query.rejectUnknown([])
                let arguments = try FunctionCallRequest(request.body.readableBytes == 0 ? .object([:]) : JSONValue.parse(request.body))
                let (plugin, function) = (request.parameter("plugin"), request.parameter("function"))
                let result = try await answer { () throws(PluginControlError) in
                    try await plugins.call(plugin: plugin, function: function, arguments: arguments.args)
                }
                return .json(FunctionCallResult(result: result))
            },
        ]
    }

    /// Runs a plugin operation; its failure becomes a 404 (no such plugin) or a 400.
    private static func answer<Result>(_ operation: () async throws(PluginControlError) -> Result) async throws(APIError) -> Result {
        do {
            return try await operation()
        } catch {
            switch error.kind {
            case .notFound: throw .notFound(error.message)
            case .refused: throw .badRequest(error.message)
            }
        }
    }
}

/// The body of `POST /plugins`: `{"path": "...", "name": "...", "options": {"key": "value"}}`.
struct PluginLoadRequest: Sendable {
    var path: String
    var name: String?
    var options: [(key: String, value: String)] = []

    init(_ value: JSONValue) throws(APIError) {
        let fields = try JSONFields(value)
        try fields.rejectUnknown(["path", "name", "options"])
        path = try fields.requiredString("path")
        guard !path.isEmpty else { throw .badParameter("path", "must not be empty") }
        name = try fields.string("name")
        if let options = try fields.object("options") {
            for key in options.values.keys.sorted() {
                guard let value = try options.string(key) else { throw .badParameter(options.name(key), "expected a string, got null") }
                self.options.append((key, value))
            }
        }
    }
}

/// The body of `POST /plugins/{plugin}/functions/{function}`: `{"args": [1, 2.5, true, "text"]}`
/// (no body, or no `args`: no arguments).
struct FunctionCallRequest: Sendable {
    var args: [JSONValue] = []

    init(_ value: JSONValue) throws(APIError) {
        let fields = try JSONFields(value)
        try fields.rejectUnknown(["args"])
        switch fields.values["args"] {
        case nil, .null?: break
        case .array(let values)?: args = values
        case let other?: throw .badParameter("args", "expected an array, got \(other.typeName)")
        }
    }
}

/// The answer of a function call: `{"result": VALUE}` (`null` for a void function).
struct FunctionCallResult: Encodable, Sendable {
    var result: JSONValue
}
