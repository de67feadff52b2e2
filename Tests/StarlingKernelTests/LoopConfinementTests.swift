import Foundation
import StarlingTestSupport
import XCTest

/// Every `@unchecked Sendable` type in Sources/ either is `LoopConfined` (and asserts its loop) or
/// says on its declaration line why it is safe (a lock, immutability, atomics).
final class LoopConfinementTests: XCTestCase {
    func testEveryUncheckedSendableTypeIsCheckedOrSaysWhy() throws {
        let sources = repositoryRoot.appendingPathComponent("Sources")
        let files = try XCTUnwrap(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        var declarations = 0
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("@unchecked Sendable")
                && (line.contains("class ") || line.contains("struct ")) {
                declarations += 1
                let name = "\(file.lastPathComponent): \(line.trimmingCharacters(in: .whitespaces))"
                if line.contains("LoopConfined") {
                    // The type's own file or its extensions' files (`Type+Part.swift`) assert the loop.
                    let type = typeName(line)
                    let asserts = try files.filter { $0 == file || $0.lastPathComponent.hasPrefix("\(type)+") }
                        .contains { try String(contentsOf: $0, encoding: .utf8).contains("assertOnLoop()") }
                    XCTAssertTrue(asserts, "\(name) is LoopConfined but never asserts its loop")
                } else {
                    XCTAssertTrue(line.contains("//"), "\(name) is neither LoopConfined nor says why it is Sendable")
                }
            }
        }
        XCTAssertGreaterThan(declarations, 20, "the scan found the declarations")
    }


    /// `Name` of `final class Name: ...` or `struct Name<T>: ...`.
    private func typeName(_ line: Substring) -> String {
        let afterKeyword = line.components(separatedBy: line.contains("class ") ? "class " : "struct ")[1]
        return String(afterKeyword.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
    }
}
