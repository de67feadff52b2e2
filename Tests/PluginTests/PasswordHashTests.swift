import Foundation
import StarlingPasswords
import XCTest
import StarlingTestSupport

/// Mosquitto's `$6$` and `$7$` hashes: vectors computed from their definitions with Python's
/// hashlib, a file written by Debian's `mosquitto_passwd`, and our own hashes read back.
final class PasswordHashTests: XCTestCase {
    /// `$6$`: SHA-512(password || salt), salt "0123456789ab" (hashlib).
    static let sha512Line = "$6$MDEyMzQ1Njc4OWFi$qEXipeLbgxRlwd06QHfY5WITkUZg0jLg9SZbXzq3ifXjfj+v3GbJGrSfC5PAg3UNCS+UFfbhUIZX4bmIAs330w=="
    /// `$7$`: PBKDF2-HMAC-SHA512("päss", "0123456789ab", 101, 64) (hashlib).
    static let pbkdf2Line = "$7$101$MDEyMzQ1Njc4OWFi$2HJcItiOCrAotpgJoQGDSpUKLCBDixRKXREOKy2P5In/ZbJrERZn1HAjm44npDdUqRdjzOMHzXpKiGG/cH9b3w=="

    func testSHA512HashFromItsDefinition() throws {
        let hash = try XCTUnwrap(PasswordHash(Self.sha512Line))
        XCTAssertEqual(hash.algorithm, .sha512)
        XCTAssertTrue(hash.verifies(Array("secret".utf8)))
        XCTAssertFalse(hash.verifies(Array("secreT".utf8)))
        XCTAssertFalse(hash.verifies([UInt8]()))
        XCTAssertEqual(hash.text, Self.sha512Line)
    }

    func testPBKDF2HashFromItsDefinitionWithNonASCIIPassword() throws {
        let hash = try XCTUnwrap(PasswordHash(Self.pbkdf2Line))
        XCTAssertEqual(hash.algorithm, .pbkdf2SHA512(iterations: 101))
        XCTAssertTrue(hash.verifies(Array("päss".utf8)))
        XCTAssertFalse(hash.verifies(Array("pass".utf8)))
        XCTAssertEqual(hash.text, Self.pbkdf2Line)
        // One iteration, an empty password (hashlib as well).
        let one = "$7$1$TmFDbA==$5+K0H0iHQhvLdk60pW9j0lAuM8dk+99gYmrULtlnI0IVtokdjP8CeVKQNaPIlIUWBFCNJAqmRDS42oo901I2DQ=="
        XCTAssertTrue(try XCTUnwrap(PasswordHash(one)).verifies([UInt8]()))
    }

    /// What we write has Mosquitto 2.0's parameters and reads back.
    func testNewHashesUseMosquittoParametersAndVerify() throws {
        let hash = PasswordHash(password: Array("hunter2".utf8))
        XCTAssertEqual(hash.algorithm, .pbkdf2SHA512(iterations: 101))
        XCTAssertEqual(hash.salt.count, 12)
        XCTAssertTrue(hash.text.hasPrefix("$7$101$"))
        let parsed = try XCTUnwrap(PasswordHash(hash.text))
        XCTAssertTrue(parsed.verifies(Array("hunter2".utf8)))
        XCTAssertFalse(parsed.verifies(Array("hunter3".utf8)))
        XCTAssertNotEqual(PasswordHash(password: Array("hunter2".utf8)).salt, hash.salt, "a fresh salt each time")
    }

    func testMalformedHashesAreRefused() {
        let hash = String(Self.pbkdf2Line.split(separator: "$").last!)
        for text in ["", "plain", "$5$abc$def", "$6$MDEy", "$7$x$MDEy$\(hash)", "$7$0$MDEy$\(hash)",
                     "$7$2000000$MDEy$\(hash)", "$7$101$$\(hash)", "$7$101$MDEy$AAAA", "$7$101$MDEy$not*base64",
                     "x$7$101$MDEy$\(hash)", "$6$MDEy$\(hash)$extra"] {
            XCTAssertNil(PasswordHash(text), text)
        }
    }

    /// Debian's mosquitto_passwd writes `$7$`, 101 iterations, a 12-byte salt; we verify its lines.
    func testFileWrittenByMosquittoPasswd() throws {
        let directory = try makeTemporaryDirectory("starling-plugins")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("mosquitto.passwd").path
        try PluginBuilder.run("mosquitto_passwd", ["-c", "-b", path, "alice", "wonder land"])
        try PluginBuilder.run("mosquitto_passwd", ["-b", path, "bob", "b"])
        let file = PasswordFile(text: try String(contentsOfFile: path, encoding: .utf8))
        XCTAssertEqual(file.users, ["alice", "bob"])
        let alice = try XCTUnwrap(file.hash(of: "alice").flatMap(PasswordHash.init))
        XCTAssertEqual(alice.algorithm, .pbkdf2SHA512(iterations: 101))
        XCTAssertEqual(alice.salt.count, 12)
        XCTAssertTrue(alice.verifies(Array("wonder land".utf8)))
        XCTAssertFalse(alice.verifies(Array("b".utf8)))
        XCTAssertTrue(try XCTUnwrap(file.hash(of: "bob").flatMap(PasswordHash.init)).verifies(Array("b".utf8)))
    }

    /// Edits change only their user's line; comments and order stay.
    func testPasswordFileEditsKeepOtherLines() {
        var file = PasswordFile(text: "# users\r\nalice:$6$a$b\n\nbob:$7$1$c$d\n")
        XCTAssertEqual(file.users, ["alice", "bob"])
        file.set(user: "alice", hash: "$7$101$x$y")
        file.set(user: "carol", hash: "$7$101$z$w")
        XCTAssertTrue(file.remove(user: "bob"))
        XCTAssertFalse(file.remove(user: "bob"))
        XCTAssertEqual(file.text, "# users\nalice:$7$101$x$y\n\ncarol:$7$101$z$w\n")
        XCTAssertFalse(PasswordFile.isValid(user: "a:b"))
        XCTAssertFalse(PasswordFile.isValid(user: ""))
    }
}
