import Foundation
import StarlingTestSupport

/// Builds the shipped Swift plugins with plugins/Makefile's swiftc line, once per test run: each
/// takes swiftc several seconds, and every test may load the same file (the broker copies it).
enum SwiftPluginBuilder {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: String] = [:]  // behind `lock`
    private static let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("starling-swift-plugins-\(ProcessInfo.processInfo.processIdentifier)")

    /// plugins/hello-swift/hello-swift.so, built into a folder of this test run.
    static func helloSwift() throws -> String {
        try build(module: "HelloSwift", output: "hello-swift.so", sources: ["plugins/hello-swift/HelloSwift.swift"])
    }

    /// plugins/auth-http/auth-http.so, built into a folder of this test run.
    static func authHTTP() throws -> String {
        let folder = repositoryRoot.appendingPathComponent("plugins/auth-http")
        let sources = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }.sorted()
        return try build(module: "AuthHTTP", output: "auth-http.so", sources: sources.map { "plugins/auth-http/\($0)" })
    }

    private static func build(module: String, output: String, sources: [String]) throws -> String {
        try lock.withLock {
            if let path = built[output] { return path }
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let path = folder.appendingPathComponent(output).path
            try PluginBuilder.run("swiftc", ["-emit-library", "-parse-as-library", "-swift-version", "6", "-module-name", module,
                                             "-I", PluginBuilder.include.path, "-o", path]
                                            + sources.map { repositoryRoot.appendingPathComponent($0).path })
            built[output] = path
            return path
        }
    }

    /// The symbols `nm -D --defined-only` lists as functions (T): the entry points, nothing more.
    static func exportedFunctions(_ path: String) throws -> [String] {
        let listing = try PluginBuilder.run("nm", ["-D", "--defined-only", path])
        var functions: [String] = []
        for line in listing.split(separator: "\n") {
            let columns = line.split(separator: " ")
            if columns.count == 3, columns[1] == "T" { functions.append(String(columns[2])) }
        }
        return functions.sorted()
    }
}

/// The threads of this process (the broker under test runs in it), from /proc/self/task.
func processThreadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
}

