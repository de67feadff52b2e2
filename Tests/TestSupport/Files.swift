// Where tests find the repository's files, and scratch directories of their own.
import Foundation

/// The repository's root directory (this file is Tests/TestSupport/Files.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Creates an empty directory `PREFIX-UUID` in the system's temporary directory and returns it; the caller
/// removes it.
public func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
