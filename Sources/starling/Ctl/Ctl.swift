import ArgumentParser
import StarlingAdmin

/// `starling ctl`: see and steer a running node through its HTTP API.
struct Ctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running node through its HTTP API.",
        discussion: """
            The API address comes from --api, else STARLING_CTL_API, else api.bind and api.port of \
            the config (--config FILE and STARLING_API__… variables), else 127.0.0.1:18083. The key \
            comes from --key KEY:SECRET, else STARLING_CTL_KEY; while the node has no key, commands \
            from its own host need none. --api, --key, --config and --json go before or after the \
            subcommand. Tables by default, --json prints the API's JSON; the exit status is 1 on failure.
            """,
        subcommands: [
            CtlStatus.self, CtlStats.self, CtlMetrics.self, CtlClients.self, CtlSubscriptions.self, CtlRoutes.self,
            CtlRetained.self, CtlPublish.self, CtlReload.self, CtlAPIKey.self, CtlPlugins.self, CtlCluster.self,
        ])

    @OptionGroup var options: CtlOptions
}

/// `--page` and `--limit` of the list commands.
struct PageOptions: ParsableArguments {
    @Option(help: "The page to show, from 1.")
    var page: Int?

    @Option(help: "Items per page, 1 to 10000 (100 by default).")
    var limit: Int?

    var query: [(String, String?)] { [("page", page.map(String.init)), ("limit", limit.map(String.init))] }
}

/// A `list` command: a GET of a list route with paging and filters, shown as a table.
protocol CtlListCommand: CtlCommand {
    /// The route, e.g. `/api/v1/clients`.
    static var path: String { get }
    /// What the items are called: "clients".
    static var noun: String { get }
    var pages: PageOptions { get }
    /// The filter parameters, unset ones nil.
    var filters: [(String, String?)] { get }
    var columns: [Column] { get }
}

extension CtlListCommand {
    var filters: [(String, String?)] { [] }

    func run(_ session: CtlSession) async throws {
        let answer = try await session.call(.GET, Self.path + queryString(filters + pages.query))
        printList(answer, session, noun: Self.noun, columns: columns)
    }
}

/// A column of a list's table: its header and how a cell reads an item.
struct Column {
    let header: String
    let cell: (JSONValue) -> String

    /// The cell shows field `name` of the item.
    init(_ header: String, _ name: String) {
        self.header = header
        cell = { $0[cell: name] }
    }

    init(_ header: String, cell: @escaping (JSONValue) -> String) {
        self.header = header
        self.cell = cell
    }
}

/// `items` as a table of `columns`.
func table(_ items: [JSONValue], _ columns: [Column]) -> Table {
    var table = Table(columns.map(\.header))
    for item in items { table.rows.append(columns.map { $0.cell(item) }) }
    return table
}

/// Prints a list answer's items as a table of `columns`, and where the list goes on past this
/// page, where it stands.
func printList(_ answer: JSONValue, _ session: CtlSession, noun: String, columns: [Column]) {
    let items = answer.field("data")?.arrayValue ?? []
    guard !items.isEmpty else {
        session.say("no \(noun)")
        return
    }
    session.say(table(items, columns).render())
    let count = answer.field("meta")?.field("count")?.intValue ?? items.count
    if count > items.count, let page = answer.field("meta")?.field("page")?.intValue,
       let limit = answer.field("meta")?.field("limit")?.intValue {
        let pages = (count + limit - 1) / limit
        session.say("(page \(page) of \(pages), \(count) \(noun) in all; --page N shows another)")
    }
}
