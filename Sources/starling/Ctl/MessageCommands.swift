import ArgumentParser
import StarlingAdmin

/// `starling ctl retained list|delete`.
struct CtlRetained: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "retained", abstract: "Retained messages.",
                                                    subcommands: [List.self, Delete.self])
    @OptionGroup var options: CtlOptions

    struct List: CtlListCommand {
        static let configuration = CommandConfiguration(abstract: "Retained messages, sorted by topic.")
        static let path = "/api/v1/retained"
        static let noun = "retained messages"
        @OptionGroup var options: CtlLeafOptions<CtlRetained>
        @OptionGroup var pages: PageOptions

        var columns: [Column] {
            [Column("TOPIC", "topic"), Column("QOS", "qos"), Column("EXPIRES_IN", "expires_in"),
             Column("PAYLOAD") { message in
                 var payload = message[cell: "payload"]
                 if payload.count > 60 { payload = String(payload.prefix(57)) + "..." }
                 return message[cell: "payload_encoding"] == "base64" ? "base64:" + payload : payload
             }]
        }
    }

    struct Delete: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "Clear the retained message of a topic.")
        @OptionGroup var options: CtlLeafOptions<CtlRetained>
        @Argument(help: "The topic.") var topic: String

        func run(_ session: CtlSession) async throws {
            try await session.call(.DELETE, "/api/v1/retained/" + percentEncoded(topic))
            session.say("deleted the retained message on \(topic)")
        }
    }
}

/// `starling ctl publish`.
struct CtlPublish: CtlCommand {
    static let configuration = CommandConfiguration(commandName: "publish", abstract: "Publish a message as the operator.")
    @OptionGroup var options: CtlLeafOptions<Ctl>
    @Option(help: "The topic name.") var topic: String
    @Option(help: "The payload (text, or base64 with --base64).") var payload = ""
    @Flag(help: "The payload is base64.") var base64 = false
    @Option(help: "0, 1 or 2.") var qos = 0
    @Flag(help: "Retain the message.") var retain = false
    @Option(help: "The content type (5.0).") var contentType: String?
    @Option(help: ArgumentHelp("A user property (5.0), repeatable.", valueName: "name=value")) var userProperty: [String] = []

    func run(_ session: CtlSession) async throws {
        var properties: [String: JSONValue] = [:]
        if let contentType { properties["content_type"] = .string(contentType) }
        if !userProperty.isEmpty {
            var pairs: [String: JSONValue] = [:]
            for pair in userProperty {
                guard let equals = pair.firstIndex(of: "=") else { throw CtlFailure("--user-property must be NAME=VALUE, not '\(pair)'") }
                pairs[String(pair[..<equals])] = .string(String(pair[pair.index(after: equals)...]))
            }
            properties["user_properties"] = .object(pairs)
        }
        var body: [String: JSONValue] = ["topic": .string(topic), "payload": .string(payload), "qos": .int(Int64(qos)),
                                         "retain": .bool(retain), "payload_encoding": .string(base64 ? "base64" : "plain")]
        if !properties.isEmpty { body["properties"] = .object(properties) }
        let answer = try await session.call(.POST, "/api/v1/publish", body: .object(body))
        let matched = answer.field("matched")?.intValue ?? 0
        session.say("published to \(topic): \(matched) matching session\(matched == 1 ? "" : "s")")
    }
}
