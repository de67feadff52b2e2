#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// A `LogHandler` that writes one line per message to standard error:
/// `2026-11-25T16:30:00.123Z info starling: message key=value` (UTC time with milliseconds,
/// level, label, message, then the metadata sorted by key).
public struct StderrLogHandler: LogHandler {
    /// The logger's label, printed after the level.
    public let label: String
    /// The least severe level written: the level this handler was given (or was set to), else
    /// the shared setting's current level.
    public var logLevel: Logger.Level {
        get { ownLevel ?? sharedLevel?.level ?? .info }
        set { ownLevel = newValue }
    }
    private var ownLevel: Logger.Level?
    private let sharedLevel: LogLevelSetting?
    /// Metadata written with every message (the message's own wins on a clash).
    public var metadata: Logger.Metadata = [:]
    /// Supplies metadata at each message, such as task-local context.
    public var metadataProvider: Logger.MetadataProvider?
    private let output: @Sendable (String) -> Void

    /// - Parameter write: receives each line, newline included; by default it goes to standard error.
    public init(
        label: String, logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider,
        write: @escaping @Sendable (String) -> Void = StderrLogHandler.writeToStandardError
    ) {
        self.label = label
        self.ownLevel = logLevel
        self.sharedLevel = nil
        self.metadataProvider = metadataProvider
        self.output = write
    }

    /// A handler whose level follows `level` (until its own `logLevel` is set).
    /// - Parameter write: receives each line, newline included; by default it goes to standard error.
    public init(
        label: String, level: LogLevelSetting,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider,
        write: @escaping @Sendable (String) -> Void = StderrLogHandler.writeToStandardError
    ) {
        self.label = label
        self.ownLevel = nil
        self.sharedLevel = level
        self.metadataProvider = metadataProvider
        self.output = write
    }

    /// Makes every `Logger` of the process log through this handler, at a level that starts at
    /// `logLevel` and follows the returned setting (a config reload changes it). Call it once,
    /// before the first `Logger` is created (swift-log allows a single bootstrap per process).
    @discardableResult
    public static func bootstrap(logLevel: Logger.Level) -> LogLevelSetting {
        let setting = LogLevelSetting(logLevel)
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: setting) }
        return setting
    }

    /// One entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one line.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }
        output(Self.formatLine(
            timestamp: Self.timestamp(), level: event.level, label: label, message: "\(event.message)",
            metadata: merged) + "\n")
    }

    /// One log line without its newline.
    public static func formatLine(
        timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        let fields = metadata.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }
        return "\(timestamp) \(level) \(label): \(message)" + fields.joined()
    }

    /// The time `secondsSince1970` + `milliseconds` as `YYYY-MM-DDTHH:MM:SS.mmmZ`; now by default.
    public static func timestamp(secondsSince1970: Int? = nil, milliseconds: Int = 0) -> String {
        var seconds: time_t
        var millis = milliseconds
        if let secondsSince1970 {
            seconds = time_t(secondsSince1970)
        } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            seconds = now.tv_sec
            millis = Int(now.tv_nsec) / 1_000_000
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// Writes `line` to file descriptor 2 in one `write` call where the system allows.
    public static func writeToStandardError(_ line: String) {
        var line = line
        line.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
