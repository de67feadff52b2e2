import Foundation
import MQTTClient
import MQTTCore
import StarlingPlugins
import XCTest
import StarlingTestSupport

/// plugins/acl-file: its C unit test, then a Mosquitto acl_file through the broker with real
/// clients, reloading, and the failures it reports.
final class AclFilePluginTests: PluginTestCase, @unchecked Sendable {
    /// A Mosquitto acl_file as Mosquitto reads it; nothing in it is Starling's.
    static let mosquittoFile = """
        # anonymous clients
        topic read public/#
        topic write public/in/#

        user alice
        topic readwrite alice/#
        topic deny alice/private/#

        user watcher
        topic read #

        # every client
        pattern write devices/%c/status
        pattern read inbox/%u/#
        pattern deny devices/blocked/#

        """

    private func buildAcl() throws -> String {
        try PluginBuilder.build("plugins/acl-file/acl_file.c", into: directory, output: "acl-file.so")
    }

    private func write(_ text: String, to name: String = "acl") throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The matcher, parser and evaluation, through a C program that includes the plugin's source.
    func testUnitProgramOfMatcherAndParser() throws {
        let program = directory.appendingPathComponent("acl_file_unit").path
        try PluginBuilder.run("cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", PluginBuilder.include.path,
                                     "-o", program,
                                     PluginBuilder.fixtures.appendingPathComponent("acl_file_unit.c").path])
        let output = try PluginBuilder.run(program, [directory.appendingPathComponent("scratch").path])
        XCTAssertTrue(output.hasSuffix(", 0 failed\n"), output)
    }

    func testMosquittoFileThroughTheBroker() async throws {
        let acl = try buildAcl()
        let file = try write(Self.mosquittoFile)
        try await startNode(plugins: [entry(acl, ["acl_file": file])]) { $0.settings.authentication.noMatch = .allow }
        try await log.wait(for: "loaded 8 rules from \(file) (no_match deny)")

        let watcher = try await connect("w", username: "watcher", password: "x")
        let seen = Inbox(watcher)
        let watchAck = try await watcher.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce),
                                                    TopicSubscription(filter: "$SYS/#", qos: .atLeastOnce),
                                                    TopicSubscription(filter: "public/#", qos: .atLeastOnce),
                                                    TopicSubscription(filter: "alice/#", qos: .atLeastOnce),
                                                    TopicSubscription(filter: "devices/dev1/#", qos: .atLeastOnce),
                                                    TopicSubscription(filter: "devices/dev2/#", qos: .atLeastOnce)])
        // "#" could receive what the deny pattern refuses; a leading "#" does not cover $SYS.
        XCTAssertEqual(watchAck.reasonCodes, [.notAuthorized, .notAuthorized, .grantedQoS1, .grantedQoS1,
                                              .grantedQoS1, .grantedQoS1])

        // Anonymous clients: the lines before the first user.
        let anon = try await connect("anon-5")
        let anonAck = try await anon.subscribe([TopicSubscription(filter: "public/#", qos: .atLeastOnce),
                                                TopicSubscription(filter: "public/+/x", qos: .atLeastOnce),
                                                TopicSubscription(filter: "#", qos: .atLeastOnce),
                                                TopicSubscription(filter: "alice/x", qos: .atLeastOnce),
                                                TopicSubscription(filter: "inbox/anon-5/x", qos: .atLeastOnce)])
        XCTAssertEqual(anonAck.reasonCodes, [.grantedQoS1, .grantedQoS1, .notAuthorized, .notAuthorized, .notAuthorized],
                       "%u never matches an anonymous client")
        let old = try await connect("anon-3", version: .v3_1_1)
        let oldAck = try await old.subscribe([TopicSubscription(filter: "alice/#", qos: .atLeastOnce),
                                              TopicSubscription(filter: "public/a", qos: .atMostOnce)])
        XCTAssertEqual(oldAck.reasonCodes.map(\.rawValue), [0x80, 0x00])
        let readOnly = try await anon.publish("public/x", payload: "no: read only", qos: .atLeastOnce)
        XCTAssertEqual(readOnly?.reasonCode, .notAuthorized)
        let writable = try await anon.publish("public/in/1", payload: "anon in", qos: .atLeastOnce)
        XCTAssertEqual(writable?.reasonCode, .success)

        // A user block: alice gets hers, not the anonymous lines; deny wins over her readwrite.
        let alice = try await connect("alice-1", username: "alice", password: "x")
        let aliceAck = try await alice.subscribe([TopicSubscription(filter: "alice/news/#", qos: .atLeastOnce),
                                                  TopicSubscription(filter: "alice/#", qos: .atLeastOnce),
                                                  TopicSubscription(filter: "public/#", qos: .atLeastOnce),
                                                  TopicSubscription(filter: "inbox/alice/#", qos: .atLeastOnce),
                                                  TopicSubscription(filter: "inbox/bob/x", qos: .atLeastOnce)])
        XCTAssertEqual(aliceAck.reasonCodes, [.grantedQoS1, .notAuthorized, .notAuthorized, .grantedQoS1, .notAuthorized])
        let own = try await alice.publish("alice/news/1", payload: "alice news", qos: .atLeastOnce)
        XCTAssertEqual(own?.reasonCode, .success)
        let privateTopic = try await alice.publish("alice/private/1", payload: "no: deny", qos: .atLeastOnce)
        XCTAssertEqual(privateTopic?.reasonCode, .notAuthorized)
        let anonymousLine = try await alice.publish("public/in/2", payload: "no: anonymous only", qos: .atLeastOnce)
        XCTAssertEqual(anonymousLine?.reasonCode, .notAuthorized)

        // %c: each client its own status topic; a deny pattern over it.
        let device = try await connect("dev1")
        let status = try await device.publish("devices/dev1/status", payload: "dev1 up", qos: .atLeastOnce)
        XCTAssertEqual(status?.reasonCode, .success)
        let other = try await device.publish("devices/dev2/status", payload: "no: not its id", qos: .atLeastOnce)
        XCTAssertEqual(other?.reasonCode, .notAuthorized)
        let blocked = try await connect("blocked")
        let blockedStatus = try await blocked.publish("devices/blocked/status", payload: "no: deny pattern", qos: .atLeastOnce)
        XCTAssertEqual(blockedStatus?.reasonCode, .notAuthorized)

        try await seen.wait(for: 3)
        try await settle(.milliseconds(200))
        XCTAssertEqual(seen.texts.sorted(), ["alice news", "anon in", "dev1 up"], "refused messages are not delivered")
    }

    func testFileChangedAtRunTimeAndBrokenFileKeepsTheRules() async throws {
        let acl = try buildAcl()
        let file = try write("topic readwrite a/#\n")
        try await startNode(plugins: [entry(acl, ["acl_file": file])])
        let client = try await connect("reload")
        let first = try await client.publish("a/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(first?.reasonCode, .noMatchingSubscribers)
        let before = try await client.publish("b/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(before?.reasonCode, .notAuthorized)

        // Looked at no more than once a second, and taken once it is a second old.
        _ = try write("topic readwrite b/#\ntopic deny b/secret\n")
        try await Task.sleep(for: .milliseconds(1300))
        let after = try await client.publish("b/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(after?.reasonCode, .noMatchingSubscribers)
        try await log.wait(for: "reloaded 2 rules from \(file)")
        let old = try await client.publish("a/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(old?.reasonCode, .notAuthorized)

        _ = try write("topic readwrite c/#\ntopic reed b/#\n")
        try await Task.sleep(for: .milliseconds(1300))
        let kept = try await client.publish("b/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(kept?.reasonCode, .noMatchingSubscribers, "the rules in force stay")
        try await log.wait(for: "acl_file \(file) line 2: unknown access \"reed\" (read, write, readwrite or deny); keeping the previous rules")
        let stillDenied = try await client.publish("b/secret", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(stillDenied?.reasonCode, .notAuthorized)
        let subAck = try await client.subscribe([TopicSubscription(filter: "b/#", qos: .atLeastOnce),
                                                 TopicSubscription(filter: "b/x", qos: .atLeastOnce)])
        XCTAssertEqual(subAck.reasonCodes, [.notAuthorized, .grantedQoS1], "b/# could receive b/secret")
    }

    /// no_match = ignore passes to the broker's authorization.no_match (here: allow, the default).
    func testNoMatchIgnorePassesToTheBroker() async throws {
        let acl = try buildAcl()
        let file = try write("topic deny secret/#\n")
        try await startNode(plugins: [entry(acl, ["acl_file": file, "no_match": "ignore"])])
        let client = try await connect("ignored")
        let passes = try await client.publish("other/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(passes?.reasonCode, .noMatchingSubscribers)
        let denied = try await client.publish("secret/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
    }

    /// At load a file that does not parse, a missing file or option, or a bad no_match fail init.
    func testLoadFailuresNameTheProblem() async throws {
        let acl = try buildAcl()
        let bad = try write("topic read ok/#\n\nuser\n", to: "bad-acl")
        let node = try await startNode()
        let cases: [([PluginOption], Int, String)] = [
            ([], 1, "option acl_file is required"),
            ([PluginOption(key: "acl_file", value: bad), PluginOption(key: "no_match", value: "maybe")], 2,
             "option no_match must be allow, deny or ignore"),
            ([PluginOption(key: "acl_file", value: bad)], 4, "acl_file \(bad) line 3: user without a name"),
            ([PluginOption(key: "acl_file", value: bad + ".missing")], 4,
             "cannot open acl_file \(bad).missing: No such file or directory"),
        ]
        for (options, status, logged) in cases {
            do {
                try await node.plugins.load(path: acl, options: options)
                XCTFail("loaded with \(options)")
            } catch {
                XCTAssertEqual(error.message, "cannot load plugin \(acl): starling_plugin_init returned \(status)")
            }
            try await log.wait(for: logged)
        }
    }
}
