import Foundation
import Logging
import StarlingKernel
import StarlingServer
import XCTest
import StarlingTestSupport

final class ConfigLoadingTests: ConfigTestCase {
    func testDefaultsWithoutFile() throws {
        let config = try load(nil)
        XCTAssertEqual(config, ServerConfig())
        XCTAssertEqual(config.settings, BrokerSettings())
        XCTAssertEqual(config.listeners, [ListenerConfig(kind: .tcp, name: "default", bind: "127.0.0.1", port: 1883)])
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertEqual(config.dataDir, "data")
        XCTAssertNil(config.settings.allowAnonymous)
    }

    func testNodeAndLogSections() throws {
        let config = try load("""
            [node]
            name = "edge-1@broker.example.com"
            event_loops = 4
            max_connections = 5000
            data_dir = "/var/lib/starling"
            [log]
            level = "debug"
            """)
        XCTAssertEqual(config.settings.nodeName, "edge-1@broker.example.com")
        XCTAssertEqual(config.settings.eventLoops, 4)
        XCTAssertEqual(config.settings.maxConnections, 5000)
        XCTAssertEqual(config.dataDir, "/var/lib/starling")
        XCTAssertEqual(config.logLevel, .debug)
    }

    func testListenersSectionReplacesTheDefault() throws {
        let config = try load("""
            [listeners.tcp.internal]
            bind = "::1"
            port = 2883
            max_connections = 10
            [listeners.tcp.public]
            enabled = false
            bind = "0.0.0.0"
            """)
        XCTAssertEqual(config.listeners.sorted { $0.name < $1.name }, [
            ListenerConfig(kind: .tcp, name: "internal", bind: "::1", port: 2883, enabled: true, maxConnections: 10),
            ListenerConfig(kind: .tcp, name: "public", bind: "0.0.0.0", port: 1883, enabled: false),
        ])
    }

    func testMQTTSection() throws {
        let config = try load("""
            [mqtt]
            allow_anonymous = false
            max_packet_size = "64KB"
            max_clientid_len = 100
            max_topic_levels = 16
            max_topic_length = 1024
            max_qos_allowed = 1
            retain_available = false
            wildcard_subscription = false
            shared_subscription = false
            subscription_identifiers = false
            max_topic_alias = 0
            server_keepalive = "1m"
            keepalive_multiplier = 2
            shared_subscription_strategy = "hash_topic"
            """)
        var expected = MQTTLimits()
        expected.maxPacketSize = 65_536
        expected.maxClientIdLength = 100
        expected.maxTopicLevels = 16
        expected.maxTopicLength = 1024
        expected.maxQoS = 1
        expected.retainAvailable = false
        expected.wildcardSubscriptionAvailable = false
        expected.sharedSubscriptionAvailable = false
        expected.subscriptionIdentifiersAvailable = false
        expected.maxTopicAlias = 0
        expected.serverKeepAlive = 60
        expected.keepAliveMultiplier = 2.0
        XCTAssertEqual(config.settings.mqtt, expected)
        XCTAssertEqual(config.settings.allowAnonymous, false)
        XCTAssertEqual(config.settings.sharedSubscription.strategy, .hashTopic)
    }

    func testSessionSection() throws {
        let config = try load("""
            [session]
            receive_maximum = 10
            max_session_expiry = "2h"
            max_queued_messages = 0
            max_queued_bytes = "10MB"
            queue_qos0_offline = false
            max_awaiting_rel = 100
            """)
        var expected = SessionSettings()
        expected.receiveMaximum = 10
        expected.maxSessionExpiry = 7200
        expected.maxQueuedMessages = 0
        expected.maxQueuedBytes = 10 << 20
        expected.queueQoS0Offline = false
        expected.maxAwaitingRel = 100
        XCTAssertEqual(config.settings.session, expected)
    }

    func testSizesAndDurations() throws {
        let cases: [(String, Int, Int)] = [
            ("1048576", 1_048_576, 604_800), ("\"512B\"", 512, 45), ("\"1MB\"", 1 << 20, 30 * 60),
            ("\"2 kb\"", 2048, 2 * 3600), ("\"1m\"", 1 << 20, 7 * 86_400),
        ]
        let durations = ["604800", "\"45s\"", "\"30m\"", "\"2h\"", "\"7d\""]
        for ((size, bytes, seconds), duration) in zip(cases, durations) {
            let config = try load("[mqtt]\nmax_packet_size = \(size)\n[session]\nmax_session_expiry = \(duration)\n")
            XCTAssertEqual(config.settings.mqtt.maxPacketSize, bytes, size)
            XCTAssertEqual(config.settings.session.maxSessionExpiry, seconds, duration)
        }
    }

    func testEnvironmentSetsEveryKindOfValue() throws {
        let config = try load(nil, env: [
            "STARLING_MQTT__MAX_PACKET_SIZE": "2048",
            "STARLING_MQTT__RETAIN_AVAILABLE": "0",
            "STARLING_MQTT__ALLOW_ANONYMOUS": "true",
            "STARLING_MQTT__KEEPALIVE_MULTIPLIER": "3.5",
            "STARLING_MQTT__SHARED_SUBSCRIPTION_STRATEGY": "random",
            "STARLING_SESSION__MAX_QUEUED_BYTES": "1MB",
            "STARLING_SESSION__MAX_SESSION_EXPIRY": "30m",
            "STARLING_NODE__NAME": "n1@10.0.0.5",
            "STARLING_TEST_BIN": "/ignored", "STARLING_CONFIG": "ignored", "PATH": "/bin",
        ])
        XCTAssertEqual(config.settings.mqtt.maxPacketSize, 2048)
        XCTAssertFalse(config.settings.mqtt.retainAvailable)
        XCTAssertEqual(config.settings.allowAnonymous, true)
        XCTAssertEqual(config.settings.mqtt.keepAliveMultiplier, 3.5)
        XCTAssertEqual(config.settings.sharedSubscription.strategy, .random)
        XCTAssertEqual(config.settings.session.maxQueuedBytes, 1 << 20)
        XCTAssertEqual(config.settings.session.maxSessionExpiry, 1800)
        XCTAssertEqual(config.settings.nodeName, "n1@10.0.0.5")
    }

    func testEnvironmentAddsAListenerThatSetsItsPort() throws {
        let config = try load(nil, env: [
            "STARLING_LISTENERS__TCP__EXTRA__PORT": "0",
            "STARLING_LISTENERS__TCP__EXTRA__BIND": "localhost",
        ])
        XCTAssertEqual(config.listeners, [
            ListenerConfig(name: "default"), ListenerConfig(name: "extra", bind: "localhost", port: 0),
        ])
    }

    func testPrecedenceFileThenEnvironmentThenFlags() throws {
        let toml = """
            [log]
            level = "warning"
            [listeners.tcp.default]
            bind = "10.1.1.1"
            port = 2000
            """
        let env = [
            "STARLING_LOG__LEVEL": "debug",
            "STARLING_LISTENERS__TCP__DEFAULT__BIND": "10.2.2.2",
            "STARLING_LISTENERS__TCP__DEFAULT__PORT": "3000",
        ]
        let fromFile = try load(toml)
        XCTAssertEqual([fromFile.listeners[0].bind, "\(fromFile.listeners[0].port)", fromFile.logLevel.rawValue],
                       ["10.1.1.1", "2000", "warning"])
        let fromEnv = try load(toml, env: env)
        XCTAssertEqual([fromEnv.listeners[0].bind, "\(fromEnv.listeners[0].port)", fromEnv.logLevel.rawValue],
                       ["10.2.2.2", "3000", "debug"])
        let fromFlags = try load(toml, env: env, flags: CommandLineOverrides(bind: "::", port: 4000, logLevel: "error"))
        XCTAssertEqual([fromFlags.listeners[0].bind, "\(fromFlags.listeners[0].port)", fromFlags.logLevel.rawValue],
                       ["::", "4000", "error"])
        XCTAssertEqual(fromFlags.listeners.count, 1)
    }

    func testFlagsAddTheDefaultListenerWhenTheFileHasNone() throws {
        let config = try load("[listeners.tcp.other]\nport = 1900\n", flags: CommandLineOverrides(port: 0))
        XCTAssertEqual(config.listeners.map(\.qualifiedName), ["tcp.other", "tcp.default"])
        XCTAssertEqual(config.listeners[1].port, 0)
    }

    func testSampleConfigLoadsToTheDefaults() throws {
        let sample = repositoryRoot.appendingPathComponent("docs/starling.example.toml").path
        let config = try ServerConfig.load(file: sample, environment: [:], overrides: .init())
        XCTAssertEqual(config, ServerConfig())
    }

    func testRenderedConfigLoadsBack() throws {
        var config = try load("[mqtt]\nallow_anonymous = false\n[listeners.tcp.a]\nbind = \"::1\"\nport = 0\n",
                              env: ["STARLING_NODE__DATA_DIR": "dir with \"quotes\" \\ here"])
        XCTAssertEqual(try load(config.renderTOML()), config)
        config = ServerConfig()
        XCTAssertTrue(config.renderTOML().contains("# allow_anonymous: not set"))
        XCTAssertEqual(try load(config.renderTOML()), config)
    }

    func testIsLoopbackOnly() {
        func config(_ binds: [(String, Bool)]) -> ServerConfig {
            ServerConfig(listeners: binds.enumerated().map { ListenerConfig(name: "l\($0)", bind: $1.0, enabled: $1.1) })
        }
        XCTAssertTrue(ServerConfig().isLoopbackOnly())
        XCTAssertTrue(config([("127.0.0.1", true), ("127.8.9.10", true), ("::1", true), ("LocalHost", true)]).isLoopbackOnly())
        XCTAssertTrue(config([("0:0:0:0:0:0:0:1", true), ("0.0.0.0", false)]).isLoopbackOnly())
        XCTAssertFalse(config([("127.0.0.1", true), ("0.0.0.0", true)]).isLoopbackOnly())
        XCTAssertFalse(config([("::", true)]).isLoopbackOnly())
        XCTAssertFalse(config([("10.0.0.1", true)]).isLoopbackOnly())
        XCTAssertFalse(config([("broker.example.com", true)]).isLoopbackOnly())
    }
}
