import Foundation
import NIOConcurrencyHelpers
import XCTest
import StarlingTestSupport

/// The built `starling` executable (`.build/debug/starling`, found from this file's path), run as a
/// child process.
enum StarlingBinary {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/starling")

    /// What a finished run printed and its exit status.
    struct Run: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    /// Runs `starling ARGUMENTS` to its end (at most `timeout`), with the test's environment minus
    /// every `STARLING_` variable, plus `environment`.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    timeout: TimeInterval = 30) async throws -> Run {
        let process = try makeProcess(arguments, environment: environment)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        return try await withCheckedThrowingContinuation { continuation in
            // Blocking reads and waits stay off the concurrency pool, which the node's API uses.
            DispatchQueue.global().async {
                do {
                    try process.run()
                    let killer = DispatchWorkItem { process.terminate() }
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    let stderr = err.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    killer.cancel()
                    continuation.resume(returning: Run(status: process.terminationStatus,
                                                       stdout: String(decoding: stdout, as: UTF8.self),
                                                       stderr: String(decoding: stderr, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    static func makeProcess(_ arguments: [String], environment: [String: String]) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw TestSupportError("\(url.path) is not built: run `swift build` first")
        }
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
            .merging(environment) { _, new in new }
        return process
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
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
