import ArgumentParser
import StarlingAdmin

/// `starling ctl clients list|show|kick`.
struct CtlClients: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "clients", abstract: "Client sessions.",
                                                    subcommands: [List.self, Show.self, Kick.self])
    @OptionGroup var options: CtlOptions

    struct List: CtlListCommand {
        static let configuration = CommandConfiguration(abstract: "Client sessions, connected or not, sorted by client id.")
        static let path = "/api/v1/clients"
        static let noun = "clients"
        @OptionGroup var options: CtlLeafOptions<CtlClients>
        @OptionGroup var pages: PageOptions
        @Option(name: .customLong("clientid-prefix"), help: "Client ids starting with this.") var clientidPrefix: String?
        @Option(help: "This user name.") var username: String?
        @Option(help: "This peer address.") var ip: String?
        @Option(name: .customLong("proto-ver"), help: "3.1, 3.1.1 or 5.0.") var protoVer: String?
        @Option(help: "true or false.") var connected: Bool?

        var filters: [(String, String?)] {
            [("clientid_prefix", clientidPrefix), ("username", username), ("ip", ip), ("proto_ver", protoVer),
             ("connected", connected.map(String.init))]
        }

        var columns: [Column] {
            [Column("CLIENTID", "clientid"), Column("USERNAME", "username"), Column("IP", "ip"), Column("PORT", "port"),
             Column("PROTO", "proto_ver"), Column("CONNECTED", "connected"), Column("KEEPALIVE", "keepalive"),
             Column("SUBS", "subscriptions_count"), Column("INFLIGHT", "inflight"), Column("QUEUED", "queued")]
        }
    }

    struct Show: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "One client and its subscriptions.")
        @OptionGroup var options: CtlLeafOptions<CtlClients>
        @Argument(help: "The client id.") var clientid: String

        func run(_ session: CtlSession) async throws {
            let answer = try await session.call(.GET, "/api/v1/clients/" + percentEncoded(clientid))
            let client = answer.field("client") ?? .null
            let names = ["clientid", "username", "ip", "port", "proto_ver", "connected", "keepalive", "clean_start",
                         "connected_at", "session_expiry_interval", "subscriptions_count", "inflight", "queued"]
            session.say(Table.pairs(names.map { ($0, client[cell: $0]) }))
            let subscriptions = answer.field("subscriptions")?.arrayValue ?? []
            session.say(subscriptions.isEmpty ? "\nno subscriptions" : "\n" + table(subscriptions, subscriptionColumns).render())
        }
    }

    struct Kick: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "Disconnect a client (5.0: DISCONNECT 0x98) and discard its session.")
        @OptionGroup var options: CtlLeafOptions<CtlClients>
        @Argument(help: "The client id.") var clientid: String

        func run(_ session: CtlSession) async throws {
            try await session.call(.DELETE, "/api/v1/clients/" + percentEncoded(clientid))
            session.say("kicked \(clientid)")
        }
    }
}
