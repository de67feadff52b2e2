import Foundation
import NIOConcurrencyHelpers
import XCTest
import StarlingTestSupport

/// The built `starling` executable (`.build/debug/starling`, found from this file's path), run as a
/// child process.
enum StarlingBinary {
    static let url = repositoryRoot.appendingPathComponent(".build/debug/starling")

    /// Runs `starling ARGUMENTS` to its end (at most `timeout`), with the test's environment minus
    /// every `STARLING_` variable, plus `environment`.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    timeout: TimeInterval = 30) async throws -> ProcessOutput {
        let process = try makeProcess(arguments, environment: environment)
        return try await withCheckedThrowingContinuation { continuation in
            // Blocking reads and waits stay off the concurrency pool, which the node's API uses.
            DispatchQueue.global().async {
                continuation.resume(with: Result { try process.runToEnd(timeout: timeout) })
            }
        }
    }

    /// `starling ARGUMENTS`, not started, with the environment of `run`.
    static func makeProcess(_ arguments: [String], environment: [String: String]) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw TestSupportError("\(url.path) is not built: run `swift build` first")
        }
        return Process(url, arguments, environment: environment)
    }
}

/// A `starling start` child process; its standard error (the log) is collected as it comes.
final class StarlingProcess: @unchecked Sendable {  // Process: started once, then only read and signalled
    private let process: Process
    private let log = NIOLockedValueBox("")

    init(_ arguments: [String], directory: URL) throws {
        process = try StarlingBinary.makeProcess(arguments, environment: [:])
        process.currentDirectoryURL = directory
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let log = self.log
        err.fileHandleForReading.readabilityHandler = { handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            log.withLockedValue { $0 += text }
        }
        try process.run()
    }

    /// The log so far.
    var text: String { log.withLockedValue { $0 } }

    /// Waits for a log line matching the regular expression `pattern` and returns its first capture.
    func waitForLog(_ pattern: String, timeout: Duration = .seconds(20)) async throws -> String {
        try await waitUntil("a log line matching \(pattern) in:\n\(text)", timeout: timeout) {
            try self.text.firstMatch(of: Regex(pattern)) != nil
        }
        let match = try XCTUnwrap(try text.firstMatch(of: Regex(pattern)))
        return match.output.count > 1 ? String(match.output[1].substring ?? "") : String(match.output[0].substring ?? "")
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 10 s).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let killer = process.signal(SIGKILL, after: 10)
        process.waitUntilExit()
        killer.cancel()
    }
}
