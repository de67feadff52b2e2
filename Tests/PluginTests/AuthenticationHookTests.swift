import MQTTClient
import MQTTCore
import StarlingKernel
import StarlingServer
import XCTest

/// The authenticate hook through real clients: ALLOW, DENY (with the plugin's reason code),
/// IGNORE falling to `authentication.no_match` and `allow_anonymous`, and the chain's priorities.
final class AuthenticationHookTests: PluginTestCase, @unchecked Sendable {
    private func startWithUsers(_ configure: (inout ServerConfig) -> Void = { _ in }) async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [entry(plugin, ["users": "alice:secret", "ban_users": "mallory"])], configure)
    }

    func testAllowAcceptsAndTheEventCarriesTheClient() async throws {
        try await startWithUsers()
        _ = try await connect("alice-5", username: "alice", password: "secret")
        _ = try await connect("alice-3", version: .v3_1_1, username: "alice", password: "secret")
        try await log.wait(for: "test: authenticate alice-5 protocol 5 peer-known 1")
        try await log.wait(for: "test: authenticate alice-3 protocol 4 peer-known 1")
    }

    /// DENY with the preset 0x86, and with a code the plugin set (0x8A banned); 3.1.1 gets 4 and 5.
    func testDenyRefusesWithThePluginsReasonCode() async throws {
        try await startWithUsers()
        let wrong = try await refusal("wrong-5", username: "alice", password: "guess")
        XCTAssertEqual(wrong, .badUserNameOrPassword)
        let wrongOld = try await refusal("wrong-3", version: .v3_1_1, username: "alice", password: "guess")
        XCTAssertEqual(wrongOld?.connectReturnCode, 4)
        let banned = try await refusal("banned-5", username: "mallory", password: "any")
        XCTAssertEqual(banned, .banned)
        let bannedOld = try await refusal("banned-3", version: .v3_1_1, username: "mallory", password: "any")
        XCTAssertEqual(bannedOld?.connectReturnCode, 5)
        try await log.wait(for: "refused connection: refused by plugin test-plugin")
    }

    /// When every plugin ignores: credentials go to `authentication.no_match` (deny by default),
    /// clients without credentials follow `allow_anonymous`.
    func testIgnoreFallsToNoMatchAndAnonymousRule() async throws {
        try await startWithUsers()
        let unknown = try await refusal("bob-5", username: "bob", password: "pw")
        XCTAssertEqual(unknown, .badUserNameOrPassword)
        let unknownOld = try await refusal("bob-3", version: .v3_1_1, username: "bob", password: "pw")
        XCTAssertEqual(unknownOld?.connectReturnCode, 4)
        _ = try await connect("anonymous-ok")  // allow_anonymous = true in these tests
        await stopNode()

        try await startWithUsers { config in
            config.settings.authentication.noMatch = .allow
            config.settings.allowAnonymous = false
        }
        _ = try await connect("bob-allowed", username: "bob", password: "pw")
        let anonymous = try await refusal("anonymous-5")
        XCTAssertEqual(anonymous, .notAuthorized)
        let anonymousOld = try await refusal("anonymous-3", version: .v3_1_1)
        XCTAssertEqual(anonymousOld?.connectReturnCode, 5)
        _ = try await connect("alice-still", username: "alice", password: "secret")
    }

    /// The first ALLOW or DENY by priority wins; IGNORE passes to the next plugin.
    func testChainRunsByPriorityAndTheFirstDecisionWins() async throws {
        let plugin = try buildTestPlugin()
        try await startNode(plugins: [
            entry(plugin, name: "low", ["tag": "low", "priority": "0", "users": "alice:secret,mallory:pw"]),
            entry(plugin, name: "high", ["tag": "high", "priority": "10", "ban_users": "mallory"]),
        ])
        _ = try await connect("chain-alice", username: "alice", password: "secret")
        let high = try XCTUnwrap(log.index(of: "high: authenticate chain-alice"))
        let low = try XCTUnwrap(log.index(of: "low: authenticate chain-alice"))
        XCTAssertLessThan(high, low, "the higher priority runs first")

        let mallory = try await refusal("chain-mallory", username: "mallory", password: "pw")
        XCTAssertEqual(mallory, .banned, "high denies before low could allow")
        _ = try await connect("chain-anonymous")
        let counted = try node.broker.stats.authentications
        XCTAssertEqual(counted, ["success": 1, "failure": 1, "anonymous": 1])
        XCTAssertNotNil(log.index(of: "high: authenticate chain-mallory"))
        XCTAssertNil(log.index(of: "low: authenticate chain-mallory"), "the chain ends at the first decision")
    }

    /// Without authentication plugins the anonymous rule decides for everyone, as before.
    func testWithoutPluginsAllowAnonymousDecides() async throws {
        try await startNode { $0.settings.allowAnonymous = false }
        let refused = try await refusal("no-plugin", username: "alice", password: "secret")
        XCTAssertEqual(refused, .notAuthorized)
    }
}
