import Foundation
import MQTTClient
import MQTTCore
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// `starling ctl`, the built binary, against an in-process node.
final class CtlTests: AdminTestCase, @unchecked Sendable {
    /// `HOST:PORT` of the node's API.
    var apiAddress: String {
        get throws { "127.0.0.1:\(try api().port)" }
    }

    /// Runs `starling ctl ARGUMENTS` with `--api` first.
    func ctl(_ arguments: String..., environment: [String: String] = [:]) async throws -> ProcessOutput {
        try await StarlingBinary.run(["ctl", "--api", try apiAddress] + arguments, environment: environment)
    }

    /// Runs `starling ctl ARGUMENTS` as given.
    func ctlRaw(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessOutput {
        try await StarlingBinary.run(["ctl"] + arguments, environment: environment)
    }

    func assertSuccess(_ run: ProcessOutput, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 0, "\(run)", file: file, line: line)
        XCTAssertEqual(run.stderr, "", file: file, line: line)
    }

    /// Exit status 1 and one line `starling ctl: …` on standard error.
    func assertFailure(_ run: ProcessOutput, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, "\(run)", file: file, line: line)
        XCTAssertEqual(run.stderr, "starling ctl: \(message)\n", file: file, line: line)
        XCTAssertEqual(run.stdout, "", file: file, line: line)
    }

    func testStatusStatsMetricsAsTablesAndJSON() async throws {
        let status = try await ctl("status")
        assertSuccess(status)
        XCTAssertTrue(status.stdout.hasPrefix("node     starling@127.0.0.1\nstatus   running\nversion  "), status.stdout)
        let json = try await ctl("status", "--json")
        assertSuccess(json)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        XCTAssertEqual(decoded["status"]?.string, "running")

        let stats = try await ctl("stats")
        assertSuccess(stats)
        XCTAssertTrue(stats.stdout.hasPrefix("NAME           CURRENT  MAX\nconnections    0        0\n"), stats.stdout)
        let metrics = try await ctl("metrics")
        assertSuccess(metrics)
        XCTAssertTrue(metrics.stdout.contains("\nmessages.received "), metrics.stdout)
    }

    func testOptionsBeforeAndAfterTheSubcommand() async throws {
        let address = try apiAddress
        for arguments in [["--api", address, "--json", "clients", "list"], ["clients", "list", "--api", address, "--json"],
                          ["clients", "--api", address, "list", "--json"], ["--json", "clients", "--api", address, "list"]] {
            let run = try await ctlRaw(arguments)
            assertSuccess(run)
            XCTAssertTrue(run.stdout.hasPrefix(#"{"data":[]"#), "\(arguments): \(run.stdout)")
        }
        let fromEnvironment = try await ctlRaw(["status"], environment: ["STARLING_CTL_API": address])
        assertSuccess(fromEnvironment)
        // The config names the API's port; the environment may too.
        let config = directory.appendingPathComponent("ctl.toml")
        try "[api]\nport = \(try api().port)\n".write(to: config, atomically: true, encoding: .utf8)
        assertSuccess(try await ctlRaw(["status", "--config", config.path]))
        assertSuccess(try await ctlRaw(["--config", config.path, "status"]))
        assertSuccess(try await ctlRaw(["status"], environment: ["STARLING_API__PORT": "\(try api().port)"]))
    }

    func testClientsListShowKick() async throws {
        let kicked = try await connect("ctl-a1") { $0.username = "u1" }
        try await kicked.subscribe("ctl/#")
        _ = try await connect("ctl-a2", version: .v3_1_1)
        _ = try await connect("other")

        let list = try await ctl("clients", "list")
        assertSuccess(list)
        let lines = list.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, list.stdout)
        XCTAssertTrue(lines[0].hasPrefix("CLIENTID  USERNAME  IP         PORT"), list.stdout)
        XCTAssertTrue(lines[1].hasPrefix("ctl-a1    u1        127.0.0.1  "), list.stdout)

        let filtered = try await ctl("clients", "list", "--clientid-prefix", "ctl-", "--proto-ver", "3.1.1", "--connected", "true")
        XCTAssertEqual(filtered.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[0] }, ["ctl-a2"])
        let paged = try await ctl("clients", "list", "--limit", "1", "--page", "2")
        XCTAssertTrue(paged.stdout.contains("ctl-a2"), paged.stdout)
        XCTAssertTrue(paged.stdout.hasSuffix("(page 2 of 3, 3 clients in all; --page N shows another)\n"), paged.stdout)
        assertFailure(try await ctl("clients", "list", "--limit", "0"),
                      "limit: expected an integer from 1 to 10000, got '0' (HTTP 400)")

        let show = try await ctl("clients", "show", "ctl-a1")
        assertSuccess(show)
        XCTAssertTrue(show.stdout.hasPrefix("clientid                 ctl-a1\nusername                 u1\n"), show.stdout)
        XCTAssertTrue(show.stdout.contains("\nctl-a1    ctl/#  1    no"), show.stdout)

        assertSuccess(try await ctl("clients", "kick", "ctl-a1"))
        let disconnect = try await kicked.packets.first { $0.disconnect }
        XCTAssertEqual(disconnect.reasonCode, .administrativeAction)
        assertFailure(try await ctl("clients", "kick", "ctl-a1"), "no client 'ctl-a1' (HTTP 404)")
        assertFailure(try await ctl("clients", "show", "nobody", "--json"), "no client 'nobody' (HTTP 404)")
    }

    func testPublishRetainedSubscriptionsRoutes() async throws {
        let subscriber = try await connect("ctl-sub")
        try await subscriber.subscribe("ctl/#")
        let published = try await ctl("publish", "--topic", "ctl/a b", "--payload", "hello", "--qos", "1", "--retain",
                                      "--user-property", "k=v", "--content-type", "text/plain")
        assertSuccess(published)
        XCTAssertEqual(published.stdout, "published to ctl/a b: 1 matching session\n")
        let message = try await subscriber.messages.wait(for: 1)[0]
        XCTAssertEqual(message.topic, "ctl/a b")
        XCTAssertEqual(message.text, "hello")
        XCTAssertEqual(message.qos, .atLeastOnce)
        XCTAssertEqual(message.properties.contentType, "text/plain")
        XCTAssertEqual(message.properties.userProperties.map { "\($0.0)=\($0.1)" }, ["k=v"])
        assertSuccess(try await ctl("publish", "--topic", "ctl/bin", "--payload", "/wA=", "--base64", "--retain"))
        assertFailure(try await ctl("publish", "--topic", "ctl/+"), "topic: invalid topic 'ctl/+': a topic name is non-empty, has no + or #, and does not start with $ (except $SYS/) (HTTP 400)")

        let retained = try await ctl("retained", "list")
        assertSuccess(retained)
        // The node's own retained $SYS topics are listed too (and widen the columns); compare the rest.
        let rows = retained.stdout.split(separator: "\n").filter { !$0.hasPrefix("$SYS") }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertEqual(rows, ["TOPIC QOS EXPIRES_IN PAYLOAD", "ctl/a b 1 - hello", "ctl/bin 0 - base64:/wA="])
        assertSuccess(try await ctl("retained", "delete", "ctl/a b"))
        assertFailure(try await ctl("retained", "delete", "ctl/a b"), "no retained message on 'ctl/a b' (HTTP 404)")
        let left = try await ctl("retained", "list", "--json")
        XCTAssertTrue(left.stdout.contains(#""topic":"ctl/bin""#) && !left.stdout.contains(#""topic":"ctl/a b""#), left.stdout)

        let subscriptions = try await ctl("subscriptions", "list", "--clientid", "ctl-sub")
        XCTAssertEqual(subscriptions.stdout.split(separator: "\n").last?.split(separator: " ").prefix(2), ["ctl-sub", "ctl/#"])
        let none = try await ctl("subscriptions", "list", "--topic", "x/+")
        XCTAssertEqual(none.stdout, "no subscriptions\n")
        let routes = try await ctl("routes", "list")
        XCTAssertEqual(routes.stdout, "TOPIC  NODES\nctl/#  starling@127.0.0.1\n")
    }

    func testReloadReportsChangesAndConfigErrors() async throws {
        try writeConfig("[node]\nevent_loops = 2\nname = \"n2@127.0.0.1\"\n[mqtt]\nallow_anonymous = true\nmax_topic_levels = 5\n")
        let reload = try await ctl("reload")
        assertSuccess(reload)
        XCTAssertEqual(reload.stdout, """
            reloaded, now in force:
              mqtt.max_topic_levels: 128 -> 5
            changed, but needs a restart:
              node.name: "starling@127.0.0.1" -> "n2@127.0.0.1"

            """)
        try "[mqtt]\nmax_topic_levels = \"many\"\n".write(to: configFile, atomically: true, encoding: .utf8)
        let broken = try await ctl("reload")
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stderr.hasPrefix("starling ctl: config error: mqtt.max_topic_levels = \"many\""), broken.stderr)
        XCTAssertEqual(try node.broker.settings.mqtt.maxTopicLevels, 5)
    }

    func testAPIKeysAndAuthentication() async throws {
        let created = try await ctl("apikey", "create", "ops")
        assertSuccess(created)
        let key = try XCTUnwrap(created.stdout.firstMatch(of: /\nkey     (\S+)\n/)?.1)
        let secret = try XCTUnwrap(created.stdout.firstMatch(of: /\nsecret  (\S+)\n/)?.1)
        let pair = "\(key):\(secret)"

        assertFailure(try await ctl("status"), "an API key is required: HTTP Basic authentication with KEY:SECRET (HTTP 401)")
        assertFailure(try await ctl("status", "--key", "\(key):wrong"), "invalid API key or secret (HTTP 401)")
        assertFailure(try await ctl("status", "--key", "nocolon"), "--key (or STARLING_CTL_KEY) must be KEY:SECRET")
        assertSuccess(try await ctl("--key", pair, "status"))
        assertSuccess(try await ctl("status", "--key", pair))
        assertSuccess(try await ctl("apikey", "--key", pair, "list"))
        assertSuccess(try await ctl("status", environment: ["STARLING_CTL_KEY": pair]))

        let list = try await ctl("apikey", "list", "--key", pair)
        XCTAssertTrue(list.stdout.hasPrefix("NAME  CREATED_AT\nops   20"), list.stdout)
        XCTAssertFalse(list.stdout.contains(secret))
        assertSuccess(try await ctl("apikey", "delete", "ops", "--key", pair))
        assertSuccess(try await ctl("status"))
    }

    func testUnreachableNodeIsOneLine() async throws {
        assertFailure(try await ctlRaw(["status", "--api", "127.0.0.1:1"]),
                      "cannot reach the node at 127.0.0.1:1: connection refused")
        assertFailure(try await ctlRaw(["clients", "list"], environment: ["STARLING_CTL_API": "127.0.0.1:1"]),
                      "cannot reach the node at 127.0.0.1:1: connection refused")
        assertFailure(try await ctlRaw(["status", "--api", "nonsense"]), "--api (or STARLING_CTL_API) must be HOST:PORT or https://HOST:PORT, not 'nonsense'")
    }

    /// SIGHUP makes a real `starling start` reload its config file.
    func testSIGHUPReloadsTheConfig() async throws {
        let config = directory.appendingPathComponent("sighup.toml")
        // Its own data directory: the node this class starts keeps its store in `directory`.
        let dataDir = "[node]\ndata_dir = \"\(directory.path)/sighup-data\"\n"
        try (dataDir + "[mqtt]\nmax_packet_size = 1000\n").write(to: config, atomically: true, encoding: .utf8)
        let process = try StarlingProcess(["start", "--config", config.path, "--port", "0", "--api-port", "0"], directory: directory)
        defer { process.stop() }
        let port = try await process.waitForLog(#"starling: listening on 127\.0\.0\.1:(\d+)"#)
        _ = try await process.waitForLog(#"api listening on 127\.0\.0\.1:(\d+)"#)
        try (dataDir + "[mqtt]\nmax_packet_size = 3000\n").write(to: config, atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        _ = try await process.waitForLog(#"configuration reloaded changed=\["mqtt\.max_packet_size"\]"#)
        let client = try await MQTTClient.connect(MQTTClientConfiguration(port: Int(port)!, clientId: "after-hup",
                                                                          connectTimeout: .seconds(5)))
        XCTAssertEqual(client.connAck.properties.maximumPacketSize, 3000)
        try await client.disconnect()
    }
}
