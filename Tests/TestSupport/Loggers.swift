// Loggers for tests: one that writes nothing, one that hands every event to the test.
import Logging

extension Logger {
    /// A logger that writes nothing, for nodes and brokers whose log no test reads.
    public static let quiet = Logger(label: "starling.tests") { _ in SwiftLogNoOpLogHandler() }
}

/// A log handler for tests that assert what was logged: every event, at every level, goes to
/// `record` with the event's own metadata and the logger's (set with `logger[metadataKey:]`).
public struct RecordingLogHandler: LogHandler {
    public typealias Record = @Sendable (_ level: Logger.Level, _ message: Logger.Message,
                                         _ eventMetadata: Logger.Metadata, _ loggerMetadata: Logger.Metadata) -> Void
    private let record: Record
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(_ record: @escaping Record) { self.record = record }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        record(event.level, event.message, event.metadata ?? [:], metadata)
    }
}
