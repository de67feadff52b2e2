import Logging
import StarlingKernel

/// One configuration key: its name within its section, what it accepts, and how it reads from and
/// writes to the value it configures (`ServerConfig` for sections, `ListenerConfig` for listeners).
struct ConfigKey<Target>: Sendable {
    let name: String
    /// What the key accepts, as error messages say it: "an integer from 0 to 65535".
    let expected: String
    /// Parses `raw` and stores it; false when the value has the wrong type or is out of range.
    let assign: @Sendable (RawValue, inout Target) -> Bool
    /// The current value as a TOML literal; nil when unset.
    let render: @Sendable (Target) -> String?
    /// A secret (the cluster cookie): rendered files and change reports never show its value.
    var secret = false
    /// Another key's dotted name when this key sets the same value (`cluster.name` is `node.name`):
    /// rendered as a pointer to it and left out of change reports.
    var aliasOf: String?

    func renderLine(_ target: Target) -> String {
        if let aliasOf { return "# \(name): the same setting as \(aliasOf)" }
        guard let value = render(target) else { return "# \(name): not set (automatic)" }
        return secret ? "# \(name): set (hidden)" : "\(name) = \(value)"
    }

    static func make<Value>(
        _ name: String, _ keyPath: WritableKeyPath<Target, Value> & Sendable, expected: String,
        parse: @escaping @Sendable (RawValue) -> Value?,
        render: @escaping @Sendable (Value) -> String? = { "\($0)" }
    ) -> Self {
        ConfigKey(
            name: name, expected: expected,
            assign: { raw, target in
                guard let value = parse(raw) else { return false }
                target[keyPath: keyPath] = value
                return true
            },
            render: { render($0[keyPath: keyPath]) })
    }

    static func int(_ name: String, _ range: ClosedRange<Int>, _ keyPath: WritableKeyPath<Target, Int> & Sendable) -> Self {
        make(name, keyPath, expected: "an integer \(describe(range))", parse: { $0.integer.flatMap(range.checking) })
    }

    static func bytes(_ name: String, _ range: ClosedRange<Int>, _ keyPath: WritableKeyPath<Target, Int> & Sendable) -> Self {
        make(name, keyPath, expected: "a size in bytes \(describe(range)), as an integer or a string such as \"64KB\" or \"1MB\"",
             parse: { $0.bytes.flatMap(range.checking) })
    }

    static func seconds(_ name: String, _ range: ClosedRange<Int>, _ keyPath: WritableKeyPath<Target, Int> & Sendable) -> Self {
        make(name, keyPath, expected: "a duration in seconds \(describe(range)), as an integer or a string such as \"45s\", \"30m\", \"2h\" or \"7d\"",
             parse: { $0.seconds.flatMap(range.checking) })
    }

    /// Milliseconds, written as seconds ("3s", 3) or milliseconds ("500ms").
    static func milliseconds(_ name: String, _ range: ClosedRange<Int>, _ keyPath: WritableKeyPath<Target, Int> & Sendable) -> Self {
        make(name, keyPath, expected: "a duration from \(range.lowerBound) ms to \(range.upperBound / 1000) s, such as \"500ms\" or \"3s\"",
             parse: { $0.milliseconds.flatMap(range.checking) }, render: { $0 % 1000 == 0 ? "\"\($0 / 1000)s\"" : "\"\($0)ms\"" })
    }

    static func bool(_ name: String, _ keyPath: WritableKeyPath<Target, Bool> & Sendable) -> Self {
        make(name, keyPath, expected: "true or false", parse: \.boolean)
    }

    /// A boolean that may stay unset (nil): it is then left out when rendered.
    static func optionalBool(_ name: String, _ keyPath: WritableKeyPath<Target, Bool?> & Sendable) -> Self {
        make(name, keyPath, expected: "true or false", parse: { $0.boolean.map(Optional.some) }, render: { $0.map(String.init) })
    }

    static func number(_ name: String, greaterThan minimum: Double, atMost maximum: Double,
                       _ keyPath: WritableKeyPath<Target, Double> & Sendable) -> Self {
        make(name, keyPath, expected: "a number greater than \(minimum) and at most \(maximum)",
             parse: { raw in raw.number.flatMap { $0 > minimum && $0 <= maximum ? $0 : nil } })
    }

    /// One of an enumeration's raw values (compared case-insensitively).
    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<Target, Value> & Sendable
    ) -> Self where Value.RawValue == String {
        make(name, keyPath, expected: "one of " + Value.allCases.map(\.rawValue).joined(separator: ", "),
             parse: { raw in raw.string.flatMap { Value(rawValue: $0.lowercased()) } },
             render: { tomlQuoted($0.rawValue) })
    }

    static func string(
        _ name: String, _ keyPath: WritableKeyPath<Target, String> & Sendable, expected: String,
        valid: @escaping @Sendable (String) -> Bool
    ) -> Self {
        make(name, keyPath, expected: expected, parse: { raw in raw.string.flatMap { valid($0) ? $0 : nil } }, render: tomlQuoted)
    }
}

private func describe(_ range: ClosedRange<Int>) -> String {
    range.upperBound == .max ? "of at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
}

extension ClosedRange where Bound == Int {
    fileprivate func checking(_ value: Int) -> Int? { contains(value) ? value : nil }
}

/// A section of the config file holding plain keys (every section but `[listeners…]`).
struct ConfigSection: Sendable {
    let name: String
    let keys: [ConfigKey<ServerConfig>]
    /// Where the section's `[NAME.ssl_options]` table goes, for a section that has one.
    var sslOptions: (WritableKeyPath<ServerConfig, SSLOptions> & Sendable)? = nil
}

/// Every key the configuration knows. The TOML file, the environment, `renderTOML()` and the
/// error messages all read this table.
enum ConfigSchema {
    static let hostExpected = "an IPv4 or IPv6 address, localhost or a host name"

    static let sections: [ConfigSection] = [
        ConfigSection(name: "node", keys: [
            .string("name", \.settings.nodeName, expected: "name@host, the name of letters, digits, '_' and '-'",
                    valid: isValidNodeName),
            .int("event_loops", 0...1024, \.settings.eventLoops),
            .int("max_connections", 1...Int(Int32.max), \.settings.maxConnections),
            .string("data_dir", \.dataDir, expected: "a non-empty path", valid: { !$0.isEmpty }),
        ]),
        ConfigSection(name: "log", keys: [
            .choice("level", \.logLevel),
        ]),
        ConfigSection(name: "mqtt", keys: [
            .optionalBool("allow_anonymous", \.settings.allowAnonymous),
            .bytes("max_packet_size", 1...268_435_455, \.settings.mqtt.maxPacketSize),
            .int("max_clientid_len", 23...65_535, \.settings.mqtt.maxClientIdLength),
            .int("max_topic_levels", 1...65_535, \.settings.mqtt.maxTopicLevels),
            .int("max_topic_length", 1...65_535, \.settings.mqtt.maxTopicLength),
            .int("max_qos_allowed", 0...2, \.settings.mqtt.maxQoS),
            .bool("retain_available", \.settings.mqtt.retainAvailable),
            .bool("wildcard_subscription", \.settings.mqtt.wildcardSubscriptionAvailable),
            .bool("shared_subscription", \.settings.mqtt.sharedSubscriptionAvailable),
            .bool("subscription_identifiers", \.settings.mqtt.subscriptionIdentifiersAvailable),
            .int("max_topic_alias", 0...65_535, \.settings.mqtt.maxTopicAlias),
            .seconds("server_keepalive", 0...65_535, \.settings.mqtt.serverKeepAlive),
            .number("keepalive_multiplier", greaterThan: 1.0, atMost: 10.0, \.settings.mqtt.keepAliveMultiplier),
            .choice("shared_subscription_strategy", \.settings.sharedSubscription.strategy),
            .choice("peer_cert_as_username", \.settings.mqtt.peerCertAsUsername),
            .choice("peer_cert_as_clientid", \.settings.mqtt.peerCertAsClientId),
        ]),
        ConfigSection(name: "session", keys: [
            .int("receive_maximum", 1...65_535, \.settings.session.receiveMaximum),
            .int("max_inflight", 1...65_535, \.settings.session.maxInflight),
            .seconds("max_session_expiry", 0...Int(UInt32.max), \.settings.session.maxSessionExpiry),
            .int("max_queued_messages", 0...Int.max, \.settings.session.maxQueuedMessages),
            .bytes("max_queued_bytes", 0...Int.max, \.settings.session.maxQueuedBytes),
            .bool("queue_qos0_offline", \.settings.session.queueQoS0Offline),
            .int("max_awaiting_rel", 1...65_535, \.settings.session.maxAwaitingRel),
        ]),
        ConfigSection(name: "sys", keys: [
            .seconds("interval", 0...86_400, \.settings.sys.interval),
            .bool("client_events", \.settings.sys.clientEvents),
        ]),
        ConfigSection(name: "api", keys: [
            .bool("enabled", \.api.enabled),
            .string("bind", \.api.bind, expected: hostExpected, valid: { isValidHost($0[...]) }),
            .int("port", 0...65_535, \.api.port),
        ], sslOptions: \ServerConfig.api.ssl),
        ConfigSection(name: "cluster", keys: [
            {
                var key = ConfigKey<ServerConfig>.string(
                    "name", \.settings.nodeName, expected: "name@host, the name of letters, digits, '_' and '-' (the same setting as node.name)",
                    valid: isValidNodeName)
                key.aliasOf = "node.name"
                return key
            }(),
            {
                var key = ConfigKey<ServerConfig>.make(
                    "cookie", \.cluster.cookie, expected: "a non-empty string of at most 255 bytes, without spaces at its ends",
                    parse: { raw in raw.string.flatMap { isValidCookie($0) ? .some($0) : nil } },
                    render: { $0.map(tomlQuoted) })
                key.secret = true
                return key
            }(),
            .int("port", 0...65_535, \.cluster.port),
            .make("bind", \.cluster.bind, expected: hostExpected, parse: { raw in raw.string.flatMap { isValidHost($0[...]) ? .some($0) : nil } },
                  render: { $0.map(tomlQuoted) }),
            .make("seeds", \.cluster.seeds, expected: "a list of nodes NAME@HOST or NAME@HOST:PORT (comma-separated in a variable)",
                  parse: { raw in raw.stringList.flatMap { seeds in seeds.allSatisfy(isValidSeed) ? seeds : nil } },
                  render: { "[" + $0.map(tomlQuoted).joined(separator: ", ") + "]" }),
            .milliseconds("heartbeat_interval", 10...60_000, \.cluster.heartbeatIntervalMilliseconds),
            .milliseconds("down_after", 20...600_000, \.cluster.downAfterMilliseconds),
        ], sslOptions: \ServerConfig.clusterSSL),
        ConfigSection(name: "authentication", keys: [
            .choice("no_match", \.settings.authentication.noMatch),
        ]),
        ConfigSection(name: "authorization", keys: [
            .choice("no_match", \.settings.authorization.noMatch),
        ]),
        ConfigSection(name: "storage", keys: [
            .choice("backend", \.storage.backend),
            .choice("durability", \.storage.durability),
            .milliseconds("flush_interval", 0...10_000, \.storage.flushIntervalMilliseconds),
            .bytes("max_bytes", 0...Int.max, \.storage.maxBytes),
        ]),
        ConfigSection(name: "plugin_loader", keys: [
            .choice("on_error", \.pluginLoader.onError),
            .seconds("pending_timeout", 1...3_600, \.settings.pendingTimeout),
        ]),
    ]

    /// The keys of a `[listeners.KIND.NAME]` section.
    static let listenerKeys: [ConfigKey<ListenerConfig>] = [
        .bool("enabled", \.enabled),
        .string("bind", \.bind, expected: hostExpected, valid: { isValidHost($0[...]) }),
        .int("port", 0...65_535, \.port),
        .int("max_connections", 1...Int(Int32.max), \.maxConnections),
        .string("path", \.path, expected: "an HTTP path starting with '/' (WebSocket listeners only)",
                valid: { $0.hasPrefix("/") && !$0.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) }),
    ]

    /// The keys of a `[[plugins]]` entry (`options` is a table of its own, read apart).
    static let pluginKeys = ["path", "name", "enabled", "options"]

    /// Section names in the order the file documents them, for "known sections" messages.
    static var sectionNames: [String] {
        sections.map(\.name).flatMap { $0 == "log" ? [$0, "listeners"] : [$0] } + ["plugins"]
    }

    static func section(named name: String) -> ConfigSection? {
        sections.first { $0.name == name }
    }
}
