// Child processes: the `starling` binary, compilers, tools. Blocking calls: run them off the
// concurrency pool when a node in this process must keep serving meanwhile.
import Foundation

/// What a finished child process printed, and its exit status.
public struct ProcessOutput: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

extension Process {
    /// A process running `executable` with `arguments`, in this process's environment without its `STARLING_`
    /// variables (a child `starling` would read them) plus `environment`.
    public convenience init(_ executable: URL, _ arguments: [String], environment: [String: String]) {
        self.init()
        executableURL = executable
        self.arguments = arguments
        self.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
            .merging(environment) { _, new in new }
    }

    /// Runs the process to its end and returns what it wrote to standard output and standard error (read
    /// apart) and its exit status; one still running `timeout` seconds after its start is terminated.
    public func runToEnd(timeout: TimeInterval? = nil) throws -> ProcessOutput {
        let out = Pipe(), err = Pipe()
        standardOutput = out
        standardError = err
        try run()
        let terminator = timeout.map { signal(SIGTERM, after: $0) }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        waitUntilExit()
        terminator?.cancel()
        return ProcessOutput(status: terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Sends `signal` to the process if it still runs `seconds` from now; cancelling the returned item calls that off.
    public func signal(_ signal: Int32, after seconds: TimeInterval) -> DispatchWorkItem {
        let item = DispatchWorkItem { [self] in
            if isRunning { kill(processIdentifier, signal) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
        return item
    }
}
