import MQTTClient
import MQTTCore
import StarlingAdmin
import StarlingServer
import XCTest

/// `POST /api/v1/reload`: live settings take effect at once, others are reported as needing a
/// restart, a config that does not load changes nothing.
final class AdminReloadTests: AdminTestCase, @unchecked Sendable {
    func reload() async throws -> AdminClientResponse {
        try await request(.POST, "/api/v1/reload")
    }

    func testLiveSettingsTakeEffectAtOnce() async throws {
        let nothing = try await reload()
        XCTAssertEqual(nothing.status, .ok, nothing.text)
        XCTAssertEqual(nothing.json?["changed"]?.array, [])
        XCTAssertEqual(nothing.json?["restart_required"]?.array, [])

        try writeConfig("""
            [node]
            event_loops = 2
            max_connections = 50
            [log]
            level = "debug"
            [mqtt]
            allow_anonymous = true
            max_packet_size = "2KB"
            [session]
            max_queued_messages = 7
            """)
        let response = try await reload()
        XCTAssertEqual(response.status, .ok, response.text)
        let changed = response.json?["changed"]?.array ?? []
        XCTAssertEqual(changed.compactMap { $0["key"]?.string },
                       ["node.max_connections", "log.level", "mqtt.max_packet_size", "session.max_queued_messages"])
        let packetSize = try XCTUnwrap(changed.first { $0["key"]?.string == "mqtt.max_packet_size" })
        XCTAssertEqual(packetSize["old"]?.string, "1048576")
        XCTAssertEqual(packetSize["new"]?.string, "2048")
        XCTAssertEqual(response.json?["restart_required"]?.array, [])

        let settings = try node.broker.settings
        XCTAssertEqual(settings.mqtt.maxPacketSize, 2048)
        XCTAssertEqual(settings.maxConnections, 50)
        XCTAssertEqual(settings.session.maxQueuedMessages, 7)
        XCTAssertEqual(try node.config.logLevel, .debug)
        XCTAssertEqual(logLevel.level, .debug, "the process's log handlers follow")
        // A new connection is told the new limit.
        let client = try await connect("after-reload")
        XCTAssertEqual(client.connAck.properties.maximumPacketSize, 2048)
    }

    func testAllowAnonymousTurnsOffLive() async throws {
        let before = try await connect("anon-before")
        try writeConfig("[node]\nevent_loops = 2\n[mqtt]\nallow_anonymous = false\n")
        let response = try await reload()
        XCTAssertEqual(response.json?["changed"]?[0]?["key"]?.string, "mqtt.allow_anonymous")
        do {
            _ = try await connect("anon-after")
            XCTFail("an anonymous client connected after allow_anonymous = false")
        } catch let error as MQTTClientError {
            XCTAssertEqual(error.code, .connectionRefused)
        }
        XCTAssertTrue(before.mqtt.isActive, "connected clients stay")
    }

    func testRestartOnlySettingsAreReportedNotApplied() async throws {
        try writeConfig("""
            [node]
            name = "other@127.0.0.1"
            event_loops = 1
            [mqtt]
            allow_anonymous = true
            max_topic_levels = 9
            """, apiPort: 18999)
        let response = try await reload()
        XCTAssertEqual(response.status, .ok, response.text)
        XCTAssertEqual(response.json?["changed"]?.array?.compactMap { $0["key"]?.string }, ["mqtt.max_topic_levels"])
        XCTAssertEqual(response.json?["restart_required"]?.array?.compactMap { $0["key"]?.string },
                       ["node.name", "node.event_loops", "api.port"])
        XCTAssertEqual(try node.broker.settings.nodeName, "starling@127.0.0.1")
        XCTAssertEqual(try node.broker.settings.mqtt.maxTopicLevels, 9)
        // Still pending on the next reload: nothing restarted.
        let again = try await reload()
        XCTAssertEqual(again.json?["changed"]?.array, [])
        XCTAssertEqual(again.json?["restart_required"]?.array?.count, 3)
    }

    func testAConfigThatDoesNotLoadChangesNothing() async throws {
        try writeConfig("[node]\nevent_loops = 2\n[mqtt]\nallow_anonymous = true\nmax_packet_size = 4096\n")
        let first = try await reload()
        XCTAssertEqual(first.status, .ok)

        try "[mqtt\nmax_packet_size = 10\n".write(to: configFile, atomically: true, encoding: .utf8)
        let broken = try await reload()
        assertError(broken, .badRequest, code: "BAD_CONFIG", messageStartsWith: "config error: ")
        XCTAssertTrue(broken.json?["message"]?.string?.contains("invalid TOML") ?? false, broken.text)

        try writeConfig("[node]\nevent_loops = 2\n[mqtt]\nallow_anonymous = true\nmax_packet_size = 0\n")
        let outOfRange = try await reload()
        assertError(outOfRange, .badRequest, code: "BAD_CONFIG")
        XCTAssertTrue(outOfRange.json?["message"]?.string?.contains("mqtt.max_packet_size = 0") ?? false, outOfRange.text)

        XCTAssertEqual(try node.broker.settings.mqtt.maxPacketSize, 4096)
    }
}
