import ArgumentParser
import StarlingAdmin

/// `starling ctl plugins list|show|load|unload|reload|call`.
struct CtlPlugins: CtlGroup {
    static let configuration = CommandConfiguration(commandName: "plugins", abstract: "Plugins loaded at run time.",
                                                    subcommands: [List.self, Show.self, Load.self, Unload.self, Reload.self, Call.self])
    @OptionGroup var options: CtlOptions

    struct List: CtlListCommand {
        static let configuration = CommandConfiguration(abstract: "The loaded plugins, in load order.")
        static let path = "/api/v1/plugins"
        static let noun = "plugins"
        @OptionGroup var options: CtlLeafOptions<CtlPlugins>
        @OptionGroup var pages: PageOptions

        var columns: [Column] {
            [Column("NAME", "name"), Column("STATE", "state"), Column("ABI", cell: { "\($0[cell: "abi_version"]).\($0[cell: "abi_minor"])" }),
             Column("HOOKS", cell: hookCell), Column("PATH", "path")]
        }
    }

    struct Show: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "One plugin: its files, hooks, exported functions and options.")
        @OptionGroup var options: CtlLeafOptions<CtlPlugins>
        @Argument(help: "The plugin's name.") var name: String

        func run(_ session: CtlSession) async throws {
            showPlugin(try await session.call(.GET, "/api/v1/plugins/" + percentEncoded(name)), session)
        }
    }

    struct Load: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "Load a plugin's shared object; its hooks are in force when this returns.")
        @OptionGroup var options: CtlLeafOptions<CtlPlugins>
        @Argument(help: "The .so file, as the node's host sees it.") var path: String
        @Option(help: "Its name (default: the file name without .so).") var name: String?
        @Option(name: .customLong("option"), help: "An option for its init, KEY=VALUE (repeatable).") var pluginOptions: [String] = []

        func run(_ session: CtlSession) async throws {
            var fields: [String: JSONValue] = [:]
            for option in pluginOptions {
                guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                    throw CtlFailure("--option \(option): expected KEY=VALUE")
                }
                fields[String(option[..<equals])] = .string(String(option[option.index(after: equals)...]))
            }
            var body: [String: JSONValue] = ["path": .string(path), "options": .object(fields)]
            if let name { body["name"] = .string(name) }
            let loaded = try await session.call(.POST, "/api/v1/plugins", body: .object(body))
            session.say("loaded plugin \(loaded[cell: "name"])")
        }
    }

    struct Unload: CtlCommand {
        static let configuration = CommandConfiguration(abstract: "Unload a plugin: its hooks leave at once, in-flight calls finish first.")
        @OptionGroup var options: CtlLeafOptions<CtlPlugins>
        @Argument(help: "The plugin's name.") var name: String

        func run(_ session: CtlSession) async throws {
            try await session.call(.DELETE, "/api/v1/plugins/" + percentEncoded(name))
            session.say("unloaded plugin \(name)")
        }
    }

    struct Reload: CtlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin's file again and swap it in; if the new version fails, the old one stays.")
        @OptionGroup var options: CtlLeafOptions<CtlPlugins>
        @Argument(help: "The plugin's name.") var name: String

        func run(_ session: CtlSession) async throws {
            try await session.call(.POST, "/api/v1/plugins/" + percentEncoded(name) + "/reload")
            session.say("reloaded plugin \(name)")
        }
    }

    struct Call: CtlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call a function a plugin exports; each argument is read as the type its signature declares.")
        @OptionGroup var options: CtlLeafOptions<CtlPlugins>
        @Argument(help: "The plugin's name.") var name: String
        @Argument(help: "The function's name.") var function: String
        @Argument(help: "Its arguments, in order (42, 2.5, true, text; put -- before a negative number).")
        var arguments: [String] = []

        func run(_ session: CtlSession) async throws {
            let body: JSONValue = .object(["args": .array(arguments.map { .string($0) })])
            let answer = try await session.call(.POST, "/api/v1/plugins/" + percentEncoded(name) + "/functions/"
                                                + percentEncoded(function), body: body)
            switch answer.field("result") {
            case .bool(let flag)?: session.say(flag ? "true" : "false")
            case .null?, nil: break  // a void function
            case let result?: session.say(result.cell)
            }
        }
    }
}

/// A plugin's hooks as a cell: `authorize_publish:10,client_connected:0`.
private func hookCell(_ plugin: JSONValue) -> String {
    let hooks = plugin.field("hooks")?.arrayValue ?? []
    return hooks.isEmpty ? "-" : hooks.map { "\($0[cell: "hook"]):\($0[cell: "priority"])" }.joined(separator: ",")
}

/// A plugin's exported functions as a cell: `add: int64(int64,int64), touch: void()`.
private func functionCell(_ plugin: JSONValue) -> String {
    let functions = plugin.field("functions")?.arrayValue ?? []
    return functions.isEmpty ? "-" : functions.map { "\($0[cell: "name"]): \($0[cell: "signature"])" }.joined(separator: ", ")
}

/// Prints one plugin as name/value pairs, then its options.
private func showPlugin(_ plugin: JSONValue, _ session: CtlSession) {
    let names = ["name", "state", "path", "loaded_copy", "abi_version", "abi_minor"]
    session.say(Table.pairs(names.map { ($0, plugin[cell: $0]) } + [("hooks", hookCell(plugin)),
                                                                    ("functions", functionCell(plugin))]))
    guard case .object(let options)? = plugin.field("options"), !options.isEmpty else {
        session.say("\nno options")
        return
    }
    var table = Table(["OPTION", "VALUE"])
    for (key, value) in options.sorted(by: { $0.key < $1.key }) { table.rows.append([key, value.cell]) }
    session.say("\n" + table.render())
}
