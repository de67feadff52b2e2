/// Where a node's configuration comes from, kept so that a reload reads it the same way:
/// the file, the environment as it was at start, and the command-line flags.
public struct ConfigSource: Sendable, Equatable {
    public var file: String?
    public var environment: [String: String]
    public var overrides: CommandLineOverrides

    public init(file: String?, environment: [String: String], overrides: CommandLineOverrides) {
        self.file = file
        self.environment = environment
        self.overrides = overrides
    }

    /// Loads the configuration (see ``ServerConfig/load(file:environment:overrides:)``).
    public func load() throws(ConfigError) -> ServerConfig {
        try ServerConfig.load(file: file, environment: environment, overrides: overrides)
    }
}
