import Foundation
import MQTTClient
import MQTTCore
import StarlingPasswords
import StarlingPlugins
import StarlingServer
import XCTest
import StarlingTestSupport

/// plugins/auth-password-file, built with the plain `cc` line, against files written by Debian's
/// `mosquitto_passwd`, by hand (`$6$`) and by `PasswordHash` (what `starling passwd` writes).
final class AuthPasswordFileTests: PluginTestCase, @unchecked Sendable {
    private var passwordFile: URL { directory.appendingPathComponent("passwd") }

    private func startWithFile(_ configure: (inout ServerConfig) -> Void = { _ in }) async throws {
        let plugin = try PluginBuilder.build("plugins/auth-password-file/auth_password_file.c", into: directory,
                                             output: "auth-password-file.so")
        try await startNode(plugins: [entry(plugin, ["password_file": passwordFile.path])], configure)
    }

    /// A file by mosquitto_passwd: the right password is accepted (5.0 and 3.1.1); a wrong one is
    /// refused with 0x86 and 3.1.1 return code 4.
    func testMosquittoPasswdFileAcceptsAndRefuses() async throws {
        try PluginBuilder.run("mosquitto_passwd", ["-c", "-b", passwordFile.path, "alice", "secret"])
        try await startWithFile()
        try await log.wait(for: "loaded \(passwordFile.path): 1 users")
        _ = try await connect("alice-5", username: "alice", password: "secret")
        _ = try await connect("alice-3", version: .v3_1_1, username: "alice", password: "secret")
        let wrong = try await refusal("wrong-5", username: "alice", password: "Secret")
        XCTAssertEqual(wrong, .badUserNameOrPassword)
        let wrongOld = try await refusal("wrong-3", version: .v3_1_1, username: "alice", password: "secre")
        XCTAssertEqual(wrongOld?.connectReturnCode, 4)
        let none = try await refusal("nopass-5", username: "alice")
        XCTAssertEqual(none, .badUserNameOrPassword)
    }

    /// `$6$` lines (SHA-512 of password and salt) and our own `$7$` lines side by side.
    func testSHA512LinesAndOurOwnHashes() async throws {
        let ours = PasswordHash(password: Array("pw-carol".utf8)).text
        try "# made by hand\nbob:\(PasswordHashTests.sha512Line)\ncarol:\(ours)\n"
            .write(to: passwordFile, atomically: true, encoding: .utf8)
        try await startWithFile()
        _ = try await connect("bob", username: "bob", password: "secret")
        _ = try await connect("carol", version: .v3_1_1, username: "carol", password: "pw-carol")
        let code1 = try await refusal("bob-wrong", username: "bob", password: "pw-carol")
        XCTAssertEqual(code1, .badUserNameOrPassword)
    }

    /// Unknown users fall to authentication.no_match; clients without credentials to allow_anonymous.
    func testUnknownUsersAndAnonymousClientsAreLeftToTheConfiguration() async throws {
        try PluginBuilder.run("mosquitto_passwd", ["-c", "-b", passwordFile.path, "alice", "secret"])
        try await startWithFile()
        let code2 = try await refusal("dave-5", username: "dave", password: "x")
        XCTAssertEqual(code2, .badUserNameOrPassword)
        let code3 = try await refusal("dave-3", version: .v3_1_1, username: "dave", password: "x")
        XCTAssertEqual(code3?.connectReturnCode, 4)
        _ = try await connect("anonymous-ok")
        await stopNode()

        try await startWithFile { config in
            config.settings.authentication.noMatch = .allow
            config.settings.allowAnonymous = false
        }
        _ = try await connect("dave-allowed", username: "dave", password: "x")
        let code4 = try await refusal("alice-wrong", username: "alice", password: "x")
        XCTAssertEqual(code4, .badUserNameOrPassword)
        let code5 = try await refusal("anonymous-5")
        XCTAssertEqual(code5, .notAuthorized)
        let code6 = try await refusal("anonymous-3", version: .v3_1_1)
        XCTAssertEqual(code6?.connectReturnCode, 5)
    }

    /// A user added, and a password changed, while the broker runs: seen without a restart.
    func testFileChangesAreReloadedWithoutRestart() async throws {
        try PluginBuilder.run("mosquitto_passwd", ["-c", "-b", passwordFile.path, "alice", "secret"])
        try await startWithFile()
        let code7 = try await refusal("erin-before", username: "erin", password: "new")
        XCTAssertEqual(code7, .badUserNameOrPassword)
        try PluginBuilder.run("mosquitto_passwd", ["-b", passwordFile.path, "erin", "new"])
        try PluginBuilder.run("mosquitto_passwd", ["-b", passwordFile.path, "alice", "changed"])
        try await Task.sleep(for: .milliseconds(1100))  // the file is checked at most once a second
        _ = try await connect("erin-after", username: "erin", password: "new")
        try await log.wait(for: "reloaded \(passwordFile.path): 2 users")
        _ = try await connect("alice-after", username: "alice", password: "changed")
        let code8 = try await refusal("alice-old", username: "alice", password: "secret")
        XCTAssertEqual(code8, .badUserNameOrPassword)
    }

    /// Without password_file, or with a file it cannot read, init fails with a log line.
    func testMissingOptionOrFileFailsTheLoad() async throws {
        let plugin = try PluginBuilder.build("plugins/auth-password-file/auth_password_file.c", into: directory,
                                             output: "auth-password-file.so")
        try await startNode()
        let withoutOption = try await loadFailure(plugin)
        XCTAssertEqual(withoutOption, "cannot load plugin \(plugin): starling_plugin_init returned 2")
        try await log.wait(for: "option password_file is required")
        let withoutFile = try await loadFailure(plugin, options: [PluginOption(key: "password_file", value: passwordFile.path)])
        XCTAssertEqual(withoutFile, "cannot load plugin \(plugin): starling_plugin_init returned 4")
        try await log.wait(for: "cannot read password_file \(passwordFile.path): No such file or directory")
    }
}
