import ArgumentParser
import StarlingAdmin

/// `starling ctl apikey create|list|delete`.
struct CtlAPIKey: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "apikey", abstract: "API keys.",
                                                    subcommands: [Create.self, List.self, Delete.self])
    @OptionGroup var options: CtlOptions

    struct Create: CtlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key; its secret is shown only now.",
            discussion: "While the node has no key, run this on the node's host (loopback needs no key until one exists).")
        @OptionGroup var options: CtlLeafOptions<CtlAPIKey>
        @Argument(help: "Its name: letters, digits, '_', '-' and '.'.") var name: String

        func run(_ session: CtlSession) async throws {
            let created = try await session.call(.POST, "/api/v1/api_keys", body: .object(["name": .string(name)]))
            let key = created[cell: "key"], secret = created[cell: "secret"]
            session.say(Table.pairs([("name", name), ("key", key), ("secret", secret)]))
            session.say("\nThe secret is shown only now. Use it as --key \(key):\(secret) or STARLING_CTL_KEY=\(key):\(secret)")
        }
    }

    struct List: CtlListCommand {
        static let configuration = CommandConfiguration(abstract: "The API keys (never their secrets).")
        static let path = "/api/v1/api_keys"
        static let noun = "API keys"
        @OptionGroup var options: CtlLeafOptions<CtlAPIKey>
        @OptionGroup var pages: PageOptions
        var columns: [Column] { [Column("NAME", "name"), Column("CREATED_AT", "created_at")] }
    }

    struct Delete: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an API key.")
        @OptionGroup var options: CtlLeafOptions<CtlAPIKey>
        @Argument(help: "Its name.") var name: String

        func run(_ session: CtlSession) async throws {
            try await session.call(.DELETE, "/api/v1/api_keys/" + percentEncoded(name))
            session.say("deleted API key \(name)")
        }
    }
}
