import Logging
import StarlingAdmin
import StarlingServer
import XCTest

/// The `[api]` section, its flags and variables, and how a reload sorts changed settings.
final class APIConfigTests: ConfigTestCase {
    func testAPIDefaultsFileVariablesAndFlags() throws {
        XCTAssertEqual(try load(nil).api, APIConfig(enabled: true, bind: "127.0.0.1", port: 18083))
        let fromFile = try load("[api]\nenabled = false\nbind = \"0.0.0.0\"\nport = 8080\n")
        XCTAssertEqual(fromFile.api, APIConfig(enabled: false, bind: "0.0.0.0", port: 8080))
        let fromEnvironment = try load(nil, env: ["STARLING_API__PORT": "9000", "STARLING_API__BIND": "::1"])
        XCTAssertEqual(fromEnvironment.api, APIConfig(bind: "::1", port: 9000))
        let fromFlags = try load("[api]\nport = 8080\n", env: ["STARLING_API__PORT": "9000"],
                                 flags: CommandLineOverrides(apiBind: "localhost", apiPort: 0))
        XCTAssertEqual(fromFlags.api, APIConfig(bind: "localhost", port: 0))
    }

    func testAPIErrorsNameTheKey() throws {
        try assertError("[api]\nport = 70000\n", mentions: ["api.port = 70000", "an integer from 0 to 65535"])
        try assertError("[api]\nbind = \"not a host!\"\n", mentions: ["api.bind"])
        try assertError("[api]\nhost = \"x\"\n", mentions: ["unknown key 'api.host'", "known keys in [api]: enabled, bind, port"])
        try assertError(nil, flags: CommandLineOverrides(apiPort: -1), mentions: ["--api-port = -1"])
        try assertError("[listeners.tcp.default]\nport = 18083\n",
                        mentions: ["api.port 18083: listener tcp.default already binds 127.0.0.1:18083"])
    }

    func testRenderedAPISectionLoadsBack() throws {
        let config = try load("[api]\nbind = \"0.0.0.0\"\nport = 1234\n")
        XCTAssertTrue(config.renderTOML().contains("[api]\nenabled = true\nbind = \"0.0.0.0\"\nport = 1234\n"))
        XCTAssertEqual(try load(config.renderTOML()), config)
    }

    func testChangesAreSortedIntoLiveAndRestart() throws {
        let old = try load(nil)
        let new = try load("""
            [node]
            name = "n2@127.0.0.1"
            max_connections = 10
            [log]
            level = "debug"
            [mqtt]
            max_qos_allowed = 1
            allow_anonymous = false
            [session]
            receive_maximum = 10
            [api]
            port = 1
            [listeners.tcp.default]
            port = 1884
            [listeners.tcp.extra]
            port = 1885
            """)
        let changes = old.changes(to: new)
        XCTAssertEqual(changes.map(\.key), ["node.name", "node.max_connections", "log.level", "mqtt.allow_anonymous",
                                            "mqtt.max_qos_allowed", "session.receive_maximum", "api.port",
                                            "listeners.tcp.default.port", "listeners.tcp.extra"])
        XCTAssertEqual(changes.first { $0.key == "mqtt.allow_anonymous" }, SettingChange(key: "mqtt.allow_anonymous", old: nil, new: "false"))
        XCTAssertEqual(changes.last?.old, nil)
        XCTAssertEqual(changes.last?.new, #"{ enabled = true, bind = "127.0.0.1", port = 1885, max_connections = 1000000, path = "/mqtt" }"#)
        XCTAssertEqual(changes.filter { ServerConfig.isLive(key: $0.key) }.map(\.key),
                       ["node.max_connections", "log.level", "mqtt.allow_anonymous", "mqtt.max_qos_allowed", "session.receive_maximum"])

        // Applying the live settings leaves exactly the restart-only differences.
        let applied = old.applyingLiveSettings(of: new)
        XCTAssertEqual(applied.changes(to: new).map(\.key), ["node.name", "api.port", "listeners.tcp.default.port", "listeners.tcp.extra"])
        XCTAssertTrue(old.changes(to: applied).allSatisfy { ServerConfig.isLive(key: $0.key) })
    }

    func testLogLevelSettingIsFollowedByHandlers() {
        let level = LogLevelSetting(.info)
        let logger = Logger(label: "t") { StderrLogHandler(label: $0, level: level, metadataProvider: nil, write: { _ in }) }
        XCTAssertEqual(logger.logLevel, .info)
        level.level = .debug
        XCTAssertEqual(logger.logLevel, .debug)
        var own = logger
        own.logLevel = .error
        level.level = .trace
        XCTAssertEqual(own.logLevel, .error, "a level set on the logger itself stays")
        XCTAssertEqual(logger.logLevel, .trace)
    }
}
