import ArgumentParser
import StarlingAdmin

/// `starling ctl cluster join|leave|status`.
struct CtlCluster: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Cluster membership.",
                                                    subcommands: [Join.self, Leave.self, Status.self])
    @OptionGroup var options: CtlOptions

    struct Join: CtlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the cluster of a node; through it, link to every member.",
            discussion: """
                Returns once the link is up (exit 0), or with the reason (exit 1): wrong cookie, name clash, \
                unreachable, or no answer within --timeout.
                """)
        @OptionGroup var options: CtlLeafOptions<CtlCluster>
        @Argument(help: "The node: NAME@HOST, or NAME@HOST:PORT when its cluster port is not 4370.") var node: String
        @Option(help: "Seconds to wait for the link, 1 to 300.") var timeout: Int = 10

        func run(_ session: CtlSession) async throws {
            let status = try await session.call(.POST, "/api/v1/cluster/join",
                                                body: .object(["node": .string(node), "timeout": .int(Int64(timeout))]))
            session.say("joined \(node): \(status.field("members")?.arrayValue?.count ?? 0) other member(s)")
        }
    }

    struct Leave: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "Leave the cluster: tell every member, then drop the links.")
        @OptionGroup var options: CtlLeafOptions<CtlCluster>

        func run(_ session: CtlSession) async throws {
            try await session.call(.POST, "/api/v1/cluster/leave")
            session.say("left the cluster")
        }
    }

    struct Status: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "The members, their state, routes and links.")
        @OptionGroup var options: CtlLeafOptions<CtlCluster>

        func run(_ session: CtlSession) async throws {
            let status = try await session.call(.GET, "/api/v1/cluster")
            guard status.field("enabled") == .bool(true) else {
                session.say("\(status[cell: "node"]): not clustered (no cookie)")
                return
            }
            session.say(Table.pairs([("node", status[cell: "node"]), ("cluster port", status[cell: "cluster_port"]),
                                     ("local routes", status[cell: "local_routes"]),
                                     ("remote routes", status[cell: "remote_routes"]),
                                     ("client ids owned", status[cell: "owned_client_ids"])]))
            let members = status.field("members")?.arrayValue ?? []
            session.say(members.isEmpty ? "no other member" : table(members, [
                Column("NAME", "name"), Column("ADDRESS", "address"), Column("STATE", "state"), Column("ROUTES", "routes"),
                Column("FWD_OUT", "forwarded_out"), Column("FWD_IN", "forwarded_in"), Column("LOST", "forwards_lost"),
                Column("LINK", "link"),
            ]).render())
        }
    }
}
