import Atomics
import Logging

/// A log level shared by many `StderrLogHandler`s and changeable while they run (config reload):
/// every handler made by ``StderrLogHandler/bootstrap(logLevel:)`` reads it at each message.
public final class LogLevelSetting: Sendable {
    private let stored: ManagedAtomic<Int>

    /// A setting starting at `level`.
    public init(_ level: Logger.Level) {
        stored = ManagedAtomic(Self.index(of: level))
    }

    /// The least severe level written; setting it takes effect at the next message.
    public var level: Logger.Level {
        get { Logger.Level.allCases[stored.load(ordering: .relaxed)] }
        set { stored.store(Self.index(of: newValue), ordering: .relaxed) }
    }

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level)!
    }
}
