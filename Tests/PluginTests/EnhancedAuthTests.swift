import Foundation
import MQTTClient
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import StarlingKernel
import StarlingServer
import XCTest
import StarlingTestSupport

/// MQTT 5 enhanced authentication (5.0 section 4.12) through our client and a real plugin with
/// a SCRAM-shaped challenge: CONNECT with a method -> AUTH 0x18 -> AUTH 0x18 -> CONNACK 0x00, a
/// wrong proof, an unknown method (0x8C), re-authentication (AUTH 0x19 ... AUTH 0x00, or
/// DISCONNECT), answered at once and from the plugin's threads (complete_auth).
final class EnhancedAuthTests: PluginTestCase, @unchecked Sendable {
    private func startEnhanced(_ options: KeyValuePairs<String, String> = [:]) async throws {
        let plugin = try PluginBuilder.threadedPlugin("enhanced_auth_plugin.c", into: directory, output: "scram.so")
        try await startNode(plugins: [entry(plugin, name: "scram", options)])
    }

    /// A client of the SCRAM-TEST method that proves `password` (changeable between exchanges).
    private func configuration(_ clientId: String, method: String = "SCRAM-TEST",
                               password: NIOLockedValueBox<String>) throws -> MQTTClientConfiguration {
        var configuration = try clientConfiguration(clientId)
        configuration.connectProperties.authenticationMethod = method
        configuration.connectProperties.authenticationData = ByteBuffer(string: "n=nonce1")
        configuration.authenticate = { auth in
            let challenge = auth.properties.authenticationData.map { String(buffer: $0) } ?? ""
            guard challenge.hasPrefix("c=") else { return nil }
            var properties = Properties()
            properties.authenticationMethod = method
            properties.authenticationData = ByteBuffer(string: "p=" + challenge.dropFirst(2) + ":" + password.withLockedValue { $0 })
            return Auth(reasonCode: .continueAuthentication, properties: properties)
        }
        return configuration
    }

    private func roundTrip() async throws {
        let password = NIOLockedValueBox("secret")
        let client = try await MQTTClient.connect(try configuration("scram-client", password: password))
        defer { Task { await client.closeAbruptly() } }
        XCTAssertEqual(client.connAck.reasonCode, .success)
        XCTAssertEqual(client.connAck.properties.authenticationMethod, "SCRAM-TEST")
        XCTAssertEqual(client.connAck.properties.authenticationData.map { String(buffer: $0) }, "v=ok",
                       "the server's final message rides on CONNACK")
        let ack = try await client.publish("t", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .noMatchingSubscribers, "the connection works")

        password.withLockedValue { $0 = "wrong" }
        do {
            _ = try await MQTTClient.connect(try configuration("scram-wrong", password: password))
            XCTFail("a wrong proof was accepted")
        } catch let error as MQTTClientError where error.code == .connectionRefused {
            XCTAssertEqual(error.connAck?.reasonCode, .notAuthorized)
        }
    }

    func testChallengeRoundTripAndWrongProof() async throws {
        try await startEnhanced()
        try await roundTrip()
    }

    func testChallengeRoundTripAnsweredFromThePluginsThreads() async throws {
        try await startEnhanced(["pending": "1", "delay_ms": "150"])
        try await roundTrip()
        XCTAssertGreaterThanOrEqual(log.lines(containing: "complete_auth -> 0").count, 4)
    }

    func testUnknownMethodIsRefusedWith0x8C() async throws {
        try await startEnhanced()
        let password = NIOLockedValueBox("secret")
        do {
            _ = try await MQTTClient.connect(try configuration("other-method", method: "GS2-KRB5", password: password))
            XCTFail("an unknown method was accepted")
        } catch let error as MQTTClientError where error.code == .connectionRefused {
            XCTAssertEqual(error.connAck?.reasonCode, .badAuthenticationMethod)
        }
        await stopNode()
        try await startNode()  // no plugin at all
        do {
            _ = try await MQTTClient.connect(try configuration("no-plugin", password: password))
            XCTFail("a method was accepted without any plugin")
        } catch let error as MQTTClientError where error.code == .connectionRefused {
            XCTAssertEqual(error.connAck?.reasonCode, .badAuthenticationMethod)
        }
    }

    func testReauthenticationSucceedsThenFailsAndDisconnects() async throws {
        try await startEnhanced(["pending": "1", "delay_ms": "50"])
        let password = NIOLockedValueBox("secret")
        let client = try await MQTTClient.connect(try configuration("reauth", password: password))
        defer { Task { await client.closeAbruptly() } }
        let final = try await client.reauthenticate(data: ByteBuffer(string: "n=nonce2"))
        XCTAssertEqual(final.reasonCode, .success)
        XCTAssertEqual(final.properties.authenticationData.map { String(buffer: $0) }, "v=ok")
        XCTAssertTrue(client.isActive)

        password.withLockedValue { $0 = "changed" }
        do {
            _ = try await client.reauthenticate(data: ByteBuffer(string: "n=nonce3"))
            XCTFail("a failed re-authentication succeeded")
        } catch {}
        let disconnect = try await client.waitForClose(timeout: .seconds(5))
        XCTAssertEqual(disconnect?.reasonCode, .notAuthorized)
    }
}
