import ArgumentParser
import StarlingAdmin

/// `starling ctl status`.
struct CtlStatus: CtlCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The node's name, status, version and uptime.")
    @OptionGroup var options: CtlLeafOptions<Ctl>

    func run(_ session: CtlSession) async throws {
        let status = try await session.call(.GET, "/api/v1/status")
        session.say(Table.pairs([("node", status[cell: "node"]), ("status", status[cell: "status"]),
                                 ("version", status[cell: "version"]),
                                 ("uptime", duration(status.field("uptime_seconds")?.intValue ?? 0))]))
    }

    private func duration(_ seconds: Int) -> String {
        let parts = [(seconds / 86_400, "d"), (seconds / 3600 % 24, "h"), (seconds / 60 % 60, "m"), (seconds % 60, "s")]
        let shown = parts.drop { $0.0 == 0 && $0.1 != "s" }
        return shown.map { "\($0.0)\($0.1)" }.joined(separator: " ")
    }
}

/// `starling ctl stats`.
struct CtlStats: CtlCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Connections, sessions, subscriptions, topics and retained messages, now and at most.")
    @OptionGroup var options: CtlLeafOptions<Ctl>

    func run(_ session: CtlSession) async throws {
        let stats = try await session.call(.GET, "/api/v1/stats")
        let rows = ["connections", "sessions", "subscriptions", "topics", "retained"].map { name in
            JSONValue.object(["name": .string(name), "gauge": stats.field(name) ?? .null])
        }
        session.say(table(rows, [Column("NAME", "name"), Column("CURRENT") { $0.field("gauge")?[cell: "current"] ?? "-" },
                                 Column("MAX") { $0.field("gauge")?[cell: "max"] ?? "-" }]).render())
    }
}

/// `starling ctl metrics`.
struct CtlMetrics: CtlCommand {
    static let configuration = CommandConfiguration(commandName: "metrics", abstract: "The node's counters.")
    @OptionGroup var options: CtlLeafOptions<Ctl>

    func run(_ session: CtlSession) async throws {
        guard case .object(let counters) = try await session.call(.GET, "/api/v1/metrics") else { return }
        let rows = counters.keys.sorted().map { JSONValue.object(["name": .string($0), "value": counters[$0]!]) }
        session.say(table(rows, [Column("NAME", "name"), Column("VALUE", "value")]).render())
    }
}

/// `starling ctl reload`.
struct CtlReload: CtlCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Read the config file again; live settings take effect at once.",
        discussion: "Exit status 1 with the config error when the file does not load (nothing changes then).")
    @OptionGroup var options: CtlLeafOptions<Ctl>

    func run(_ session: CtlSession) async throws {
        let report = try await session.call(.POST, "/api/v1/reload")
        let changed = report.field("changed")?.arrayValue ?? [], pending = report.field("restart_required")?.arrayValue ?? []
        func line(_ change: JSONValue) -> String {
            let old = change.field("old").map { $0 == .null ? "(unset)" : $0.cell } ?? "(unset)"
            let new = change.field("new").map { $0 == .null ? "(unset)" : $0.cell } ?? "(unset)"
            return "  \(change[cell: "key"]): \(old) -> \(new)"
        }
        session.say(changed.isEmpty ? "reloaded: no live setting changed" : (["reloaded, now in force:"] + changed.map(line)).joined(separator: "\n"))
        if !pending.isEmpty { session.say((["changed, but needs a restart:"] + pending.map(line)).joined(separator: "\n")) }
        let certificates = report.field("certificates_reloaded")?.arrayValue ?? []
        if !certificates.isEmpty {
            session.say((["certificates read again (new connections get them):"] + certificates.map { "  \($0.cell)" }).joined(separator: "\n"))
        }
    }
}

/// `starling ctl routes list`.
struct CtlRoutes: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "The route table.", subcommands: [List.self])
    @OptionGroup var options: CtlOptions

    struct List: CtlListCommand {
        static let configuration = CommandConfiguration(abstract: "Each topic filter with the nodes holding subscribers for it.")
        static let path = "/api/v1/routes"
        static let noun = "routes"
        @OptionGroup var options: CtlLeafOptions<CtlRoutes>
        @OptionGroup var pages: PageOptions
        var columns: [Column] { [Column("TOPIC", "topic"), Column("NODES", "nodes")] }
    }
}

/// `starling ctl subscriptions list`.
struct CtlSubscriptions: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "subscriptions", abstract: "Subscriptions.", subcommands: [List.self])
    @OptionGroup var options: CtlOptions

    struct List: CtlListCommand {
        static let configuration = CommandConfiguration(abstract: "Every subscription, or those of a client or a filter.")
        static let path = "/api/v1/subscriptions"
        static let noun = "subscriptions"
        @OptionGroup var options: CtlLeafOptions<CtlSubscriptions>
        @OptionGroup var pages: PageOptions
        @Option(help: "Only this client's.") var clientid: String?
        @Option(help: "Only this filter, exactly as subscribed.") var topic: String?
        var filters: [(String, String?)] { [("clientid", clientid), ("topic", topic)] }
        var columns: [Column] { subscriptionColumns }
    }
}

/// The columns of a subscriptions table.
var subscriptionColumns: [Column] {
    [Column("CLIENTID", "clientid"), Column("TOPIC", "topic"), Column("QOS", "qos"), Column("NO_LOCAL", "no_local"),
     Column("RETAIN_AS_PUBLISHED", "retain_as_published"), Column("RETAIN_HANDLING", "retain_handling")]
}
