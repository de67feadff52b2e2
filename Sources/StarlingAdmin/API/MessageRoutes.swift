import NIOCore
import StarlingKernel

/// Retained messages (`GET /retained`, `GET|DELETE /retained/{topic}`) and `POST /publish`,
/// `POST /publish/batch`. A topic in the path is one segment with its `/` encoded as `%2F`, or
/// the rest of the path.
enum MessageRoutes {
    /// The most messages one batch may hold.
    static let maxBatch = 1000

    static func routes(_ context: AdminContext) -> [AdminRoute] {
        [
            AdminRoute(.GET, "/api/v1/retained") { request in
                try request.query.rejectUnknown(Paging.parameterNames)
                let paging = try Paging(request.query)
                return .json(paging.apply(context.broker.retainedMessages().map(RetainedJSON.init)))
            },
            AdminRoute(.GET, "/api/v1/retained/{topic*}") { request in
                try request.query.rejectUnknown([])
                let topic = request.parameter("topic")
                guard let message = context.broker.retainedMessages().first(where: { $0.topic == topic }) else {
                    throw APIError.notFound("no retained message on '\(topic)'")
                }
                return .json(RetainedJSON(message))
            },
            AdminRoute(.DELETE, "/api/v1/retained/{topic*}") { request in
                try request.query.rejectUnknown([])
                let topic = request.parameter("topic")
                guard context.broker.deleteRetained(topic: topic) else {
                    throw APIError.notFound("no retained message on '\(topic)'")
                }
                return .noContent
            },
            AdminRoute(.POST, "/api/v1/publish") { request in
                try request.query.rejectUnknown([])
                let message = try PublishRequestJSON(JSONValue.parse(request.body))
                return .json(PublishResultJSON(matched: try await publish(message, context)))
            },
            AdminRoute(.POST, "/api/v1/publish/batch") { request in
                try request.query.rejectUnknown([])
                guard case .array(let items) = try JSONValue.parse(request.body) else {
                    throw APIError.badRequest("the body must be a JSON array of messages")
                }
                guard (1...maxBatch).contains(items.count) else {
                    throw APIError.badRequest("a batch holds 1 to \(maxBatch) messages, not \(items.count)")
                }
                // Every message is checked before any is published.
                var messages: [PublishRequestJSON] = []
                for (index, item) in items.enumerated() { messages.append(try PublishRequestJSON(item, path: "[\(index)]")) }
                var results: [PublishResultJSON] = []
                for message in messages { results.append(PublishResultJSON(matched: try await publish(message, context))) }
                return .json(results)
            },
        ]
    }

    private static func publish(_ message: PublishRequestJSON, _ context: AdminContext) async throws -> Int {
        do {
            return try await context.broker.publish(topic: message.topic, payload: ByteBuffer(bytes: message.payload),
                                                    qos: message.qos, retain: message.retain,
                                                    properties: message.properties)
        } catch let error as ManagementError {
            throw APIError.badParameter("topic", error.description)
        }
    }
}

/// The answer to one published message: how many sessions it was handed to.
struct PublishResultJSON: Encodable, Sendable {
    var matched: Int
}
