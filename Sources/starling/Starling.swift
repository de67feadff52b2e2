import ArgumentParser
import Foundation
import Logging
import StarlingServer

/// The `starling` command: `start` (the default), `check-config`, `ctl`, `passwd` and `version`.
@main
struct Starling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling",
        abstract: "Starling, an MQTT broker.",
        version: starlingVersion,
        subcommands: [Start.self, CheckConfig.self, Store.self, Ctl.self, Passwd.self, Version.self],
        defaultSubcommand: Start.self
    )
}

/// `--config FILE`, shared by the commands that load the configuration.
struct ConfigFileOption: ParsableArguments {
    @Option(help: ArgumentHelp("The TOML config file (see docs/starling.example.toml).", valueName: "file"))
    var config: String?
}

/// Runs the broker.
struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the broker (the default command).",
        discussion: """
            Settings come from defaults, the config file, STARLING_<SECTION>__<KEY> environment \
            variables and these flags, each overriding the ones before.
            """)

    @OptionGroup var file: ConfigFileOption

    @Option(help: ArgumentHelp("The address of listener tcp.default.", valueName: "host"))
    var bind: String?

    @Option(help: ArgumentHelp("The port of listener tcp.default (0 picks a free one).", valueName: "n"))
    var port: Int?

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp("The address of the HTTP API (api.bind).", valueName: "host"))
    var apiBind: String?

    @Option(help: ArgumentHelp("The port of the HTTP API (api.port; 0 picks a free one).", valueName: "n"))
    var apiPort: Int?

    @Option(name: .customLong("plugin"),
            help: ArgumentHelp("Load the plugin at this path with no options, after the config file's (repeatable).",
                               valueName: "path"))
    var plugins: [String] = []

    @Option(help: ArgumentHelp("The node's name, name@host (node.name; starling@127.0.0.1 by default).", valueName: "name@host"))
    var name: String?

    @Option(help: ArgumentHelp("The cluster's shared secret (cluster.cookie); opens the cluster port.", valueName: "secret"))
    var cookie: String?

    @Option(help: ArgumentHelp("The port node-to-node links are accepted on (cluster.port, 4370 by default).", valueName: "n"))
    var clusterPort: Int?

    func run() async throws {
        let overrides = CommandLineOverrides(bind: bind, port: port, logLevel: logLevel, apiBind: apiBind, apiPort: apiPort,
                                             plugins: plugins, name: name, cookie: cookie, clusterPort: clusterPort)
        let source = ConfigSource(file: file.config, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        let config = try loadConfig(file: file.config, overrides: overrides, failureCode: 2)
        let level = StderrLogHandler.bootstrap(logLevel: config.logLevel)
        let logger = Logger(label: "starling")
        logger.info("starting", metadata: ["version": "\(starlingVersion)", "node": "\(config.settings.nodeName)"])
        do {
            try await BrokerProcess.run(config: config, source: source, logger: logger, logLevel: level)
        } catch let error as NodeStartError {
            StderrLogHandler.writeToStandardError("starling: \(error.message)\n")
            throw ExitCode(error.exitCode)
        }
    }
}

/// Loads the configuration and prints it, or the error.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Load the configuration and print the effective settings (exit 0), or the error (exit 1).")

    @OptionGroup var file: ConfigFileOption

    func run() async throws {
        let config = try loadConfig(file: file.config, overrides: CommandLineOverrides(), failureCode: 1)
        print("# effective configuration: defaults < \(file.config ?? "no config file") < environment\n")
        print(config.renderTOML(), terminator: "")
    }
}

/// `starling store`: the durable store, offline.
struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The durable store (<node.data_dir>/store/starling.db).", subcommands: [Check.self])

    /// `starling store check`.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the store with SQLite's quick_check and say what it holds (exit 0), or what is wrong (exit 2).",
            discussion: "The broker must not be running on the store: it holds it locked.")

        @OptionGroup var file: ConfigFileOption

        func run() async throws {
            let config = try loadConfig(file: file.config, overrides: CommandLineOverrides(), failureCode: 1)
            switch StoreCheck.run(config) {
            case .success(let text):
                print(text)
            case .failure(let error):
                FileHandle.standardError.write(Data("starling: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }
}

/// Prints the version.
struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Starling's version.")

    func run() async throws {
        print(starlingVersion)
    }
}

/// Loads the configuration from `file`, the process environment and `overrides`; on a
/// `ConfigError`, prints `starling: <message>` to standard error and exits with `failureCode`.
func loadConfig(file: String?, overrides: CommandLineOverrides, failureCode: Int32) throws -> ServerConfig {
    do {
        return try ServerConfig.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides)
    } catch {
        StderrLogHandler.writeToStandardError("starling: \(error)\n")
        throw ExitCode(failureCode)
    }
}
