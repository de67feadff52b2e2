import Foundation
import Logging
import StarlingTestSupport

/// Keeps every message logged through its handlers, for tests that assert what the broker and
/// its plugins said.
final class LogRecorder: @unchecked Sendable {  // state behind `lock`
    private let lock = NSLock()
    private var lines: [String] = []

    /// A logger that records into this recorder (every level).
    func logger() -> Logger {
        Logger(label: "starling.plugin-tests") { _ in
            RecordingLogHandler { [self] level, message, metadata, loggerMetadata in
                let plugin = (metadata["plugin"] ?? loggerMetadata["plugin"]).map { " [\($0)]" } ?? ""
                append("\(level)\(plugin) \(message)")
            }
        }
    }

    /// Every message so far, each as "LEVEL [plugin] message".
    var all: [String] { lock.withLock { lines } }

    /// The messages containing `text`.
    func lines(containing text: String) -> [String] { all.filter { $0.contains(text) } }

    /// Waits until some message contains `text`; returns it.
    @discardableResult
    func wait(for text: String, timeout: Duration = .seconds(5)) async throws -> String {
        try await waitUntil("a log line containing '\(text)'", timeout: timeout) { !self.lines(containing: text).isEmpty }
        return lines(containing: text)[0]
    }

    /// The index of the first message containing `text`, or nil.
    func index(of text: String) -> Int? { all.firstIndex { $0.contains(text) } }

    private func append(_ line: String) { lock.withLock { lines.append(line) } }
}
