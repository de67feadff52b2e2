import StarlingServer
import XCTest

final class ConfigErrorTests: ConfigTestCase {
    func testOutOfRangeValueNamesKeyValueFileAndRange() throws {
        let path = try write("[mqtt]\nmax_packet_size = -5\n")
        XCTAssertThrowsError(try ServerConfig.load(file: path, environment: [:], overrides: .init())) { error in
            XCTAssertEqual("\(error)", "config error: mqtt.max_packet_size = -5 (in \(path)): "
                + "expected a size in bytes from 1 to 268435455, as an integer or a string such as \"64KB\" or \"1MB\"")
        }
    }

    func testOutOfRangeValues() throws {
        let cases: [(String, [String])] = [
            ("[mqtt]\nmax_qos_allowed = 3", ["mqtt.max_qos_allowed = 3", "from 0 to 2"]),
            ("[mqtt]\nmax_topic_alias = 65536", ["mqtt.max_topic_alias = 65536", "from 0 to 65535"]),
            ("[mqtt]\nkeepalive_multiplier = 1.0", ["mqtt.keepalive_multiplier = 1.0", "greater than 1.0"]),
            // A huge multiplier would overflow the keep-alive timeout when a client connects.
            ("[mqtt]\nkeepalive_multiplier = 1e300", ["mqtt.keepalive_multiplier = 1e+300", "at most 10.0"]),
            ("[mqtt]\nmax_packet_size = 268435456", ["mqtt.max_packet_size = 268435456", "268435455"]),
            ("[session]\nreceive_maximum = 0", ["session.receive_maximum = 0", "from 1 to 65535"]),
            ("[session]\nmax_session_expiry = \"5y\"", ["session.max_session_expiry = \"5y\"", "\"7d\""]),
            ("[session]\nmax_queued_messages = -1", ["session.max_queued_messages = -1", "at least 0"]),
            ("[listeners.tcp.default]\nport = 70000", ["listeners.tcp.default.port = 70000", "from 0 to 65535"]),
            ("[node]\nevent_loops = -1", ["node.event_loops = -1", "from 0 to 1024"]),
        ]
        for (toml, parts) in cases { try assertError(toml, mentions: parts + ["(in "]) }
    }

    func testWrongTypes() throws {
        let cases: [(String, [String])] = [
            ("[mqtt]\nretain_available = \"yes\"", ["mqtt.retain_available = \"yes\"", "true or false"]),
            ("[mqtt]\nmax_qos_allowed = 1.5", ["mqtt.max_qos_allowed = 1.5", "an integer"]),
            ("[mqtt]\nmax_qos_allowed = [1]", ["mqtt.max_qos_allowed = <array>", "an integer"]),
            ("[mqtt.max_qos_allowed]\nx = 1", ["mqtt.max_qos_allowed = <table>", "an integer"]),
            ("[mqtt]\nshared_subscription_strategy = \"fastest\"", ["\"fastest\"", "round_robin, random, hash_clientid, hash_topic"]),
            ("[log]\nlevel = \"loud\"", ["log.level = \"loud\"", "trace, debug, info, notice, warning, error, critical"]),
            ("[node]\ndata_dir = \"\"", ["node.data_dir = \"\"", "non-empty"]),
            ("mqtt = 5", ["mqtt = 5", "expected a table [mqtt]"]),
            ("[listeners]\ntcp = 1", ["listeners.tcp = 1", "expected a table"]),
            ("[listeners.tcp]\ndefault = 1", ["listeners.tcp.default = 1", "expected a table"]),
        ]
        for (toml, parts) in cases { try assertError(toml, mentions: parts) }
    }

    func testUnknownKeysAndSections() throws {
        try assertError("[mqtt]\nmax_pakcet_size = 1", mentions: [
            "unknown key 'mqtt.max_pakcet_size' (in ", "known keys in [mqtt]: allow_anonymous, max_packet_size",
        ])
        try assertError("[listeners.tcp.default]\nprot = 1", mentions: [
            "unknown key 'listeners.tcp.default.prot'", "known keys in [listeners.tcp.default]: enabled, bind, port",
        ])
        try assertError("[mqttt]\nx = 1", mentions: ["unknown section [mqttt]", "known sections: node, log, listeners, mqtt, session, sys, api"])
        try assertError("verbose = true", mentions: ["unknown section [verbose]"])
        try assertError("[listeners.quic.default]\nport = 1", mentions: ["unknown listener kind 'quic'", "known kinds: tcp"])
        try assertError("[listeners.tcp.\"bad name\"]\nport = 1", mentions: ["invalid listener name 'bad name'"])
    }

    func testInvalidNodeNamesAndAddresses() throws {
        for name in ["starling", "star ling@host", "@host", "starling@", "starling@-bad-", "a@b@c", "s@999.1.1.1"] {
            try assertError("[node]\nname = \"\(name)\"", mentions: ["node.name = \"\(name)\"", "name@host"])
        }
        for bind in ["", "1.2.3.4.5", "256.0.0.1", "host_name", "::zz", "a..b"] {
            try assertError("[listeners.tcp.default]\nbind = \"\(bind)\"", mentions: [
                "listeners.tcp.default.bind = \"\(bind)\"", "an IPv4 or IPv6 address, localhost or a host name",
            ])
        }
        for bind in ["0.0.0.0", "::", "fe80::1", "localhost", "broker-1.example.com"] {
            XCTAssertEqual(try load("[listeners.tcp.default]\nbind = \"\(bind)\"").listeners[0].bind, bind)
        }
    }

    func testFileProblems() throws {
        let missing = directory.appendingPathComponent("missing.toml").path
        XCTAssertThrowsError(try ServerConfig.load(file: missing, environment: [:], overrides: .init())) { error in
            XCTAssertTrue("\(error)".contains("cannot read config file \(missing)"), "\(error)")
        }
        try assertError("[mqtt]\nmax_packet_size = \n", mentions: ["starling.toml:2:", "invalid TOML"])
    }

    func testListenerSetChecks() throws {
        try assertError("[listeners.tcp.a]\nport = 1900\n[listeners.tcp.b]\nport = 1900\n",
                        mentions: ["listeners tcp.a and tcp.b both bind 127.0.0.1:1900"])
        try assertError("[listeners.tcp.default]\nenabled = false\n", mentions: ["no enabled listener"])
        XCTAssertEqual(try load("[listeners.tcp.a]\nport = 0\n[listeners.tcp.b]\nport = 0\n").listeners.count, 2)
    }

    func testEnvironmentErrorsNameTheVariable() throws {
        let cases: [([String: String], [String])] = [
            (["STARLING_LISTENERS__TCP__DEFAULT__PORT": "abc"],
             ["config error: STARLING_LISTENERS__TCP__DEFAULT__PORT = \"abc\": expected an integer from 0 to 65535"]),
            (["STARLING_MQTT__MAX_PAKCET_SIZE": "1"],
             ["unknown key 'mqtt.max_pakcet_size' in STARLING_MQTT__MAX_PAKCET_SIZE", "known keys in [mqtt]"]),
            (["STARLING_MQTTT__MAX_PACKET_SIZE": "1"], ["unknown section [mqttt] in STARLING_MQTTT__MAX_PACKET_SIZE"]),
            (["STARLING_MQTT__RETAIN_AVAILABLE": "yes"], ["STARLING_MQTT__RETAIN_AVAILABLE = \"yes\": expected true or false"]),
            (["STARLING_MQTT__KEEPALIVE_MULTIPLIER": "x"], ["STARLING_MQTT__KEEPALIVE_MULTIPLIER = \"x\""]),
            (["STARLING_LISTENERS__QUIC__DEFAULT__PORT": "1"], ["unknown listener kind 'quic' in STARLING_LISTENERS__QUIC__DEFAULT__PORT"]),
            (["STARLING_LISTENERS__TCP__PORT": "1"], ["STARLING_LISTENERS__TCP__PORT", "STARLING_LISTENERS__<KIND>__<NAME>__<KEY>"]),
            (["STARLING_LISTENERS__TCP__NEW__BIND": "::"],
             ["STARLING_LISTENERS__TCP__NEW__BIND adds listener tcp.new", "set STARLING_LISTENERS__TCP__NEW__PORT"]),
            (["STARLING_LISTENERS__TCP__NEW__PORT": "65536"], ["STARLING_LISTENERS__TCP__NEW__PORT = \"65536\""]),
            (["STARLING_LOG__LEVEL": "chatty"], ["STARLING_LOG__LEVEL = \"chatty\"", "one of trace"]),
        ]
        for (env, parts) in cases { try assertError(nil, env: env, mentions: parts) }
    }

    func testFlagErrorsNameTheFlag() throws {
        try assertError(nil, flags: CommandLineOverrides(port: -1), mentions: ["--port = -1: expected an integer from 0 to 65535"])
        try assertError(nil, flags: CommandLineOverrides(bind: "no such host!"), mentions: ["--bind = \"no such host!\""])
        try assertError(nil, flags: CommandLineOverrides(logLevel: "verbose"), mentions: ["--log-level = \"verbose\""])
    }
}
