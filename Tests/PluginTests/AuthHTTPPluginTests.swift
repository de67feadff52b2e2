import Foundation
import MQTTClient
import MQTTCore
import NIOConcurrencyHelpers
import StarlingPlugins
import StarlingServer
import XCTest
import StarlingTestSupport

/// plugins/auth-http, built with swiftc, against a local HTTP server started by each test: the
/// server's answers decide connect, publish and subscribe; the cache spares repeated questions;
/// a slow or absent server is answered by on_error while other clients carry on (the plugin
/// answers PENDING and completes later); reloads leave no thread behind and drop nobody.
final class AuthHTTPPluginTests: PluginTestCase, @unchecked Sendable {
    private var server: TestHTTPServer?

    override func tearDown() async throws {
        await server?.stop()
        try await super.tearDown()
    }

    private func startServer(_ respond: @escaping @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Reply) async throws
        -> TestHTTPServer {
        let started = try await TestHTTPServer(respond).start()
        server = started
        return started
    }

    /// Starts a node loading auth-http with `options`.
    @discardableResult
    private func startNode(authHTTP options: [(String, String)],
                           _ configure: (inout ServerConfig) -> Void = { _ in }) async throws -> BrokerProcess {
        let plugin = try SwiftPluginBuilder.authHTTP()
        let config = PluginConfig(path: plugin, name: "auth-http", options: options.map { PluginOption(key: $0.0, value: $0.1) })
        return try await startNode(plugins: [config], configure)
    }

    /// The port of a socket that was bound and closed: nothing listens there.
    private func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func testExportsOnlyTheEntryPoints() throws {
        XCTAssertEqual(try SwiftPluginBuilder.exportedFunctions(try SwiftPluginBuilder.authHTTP()),
                       ["starling_plugin_abi_minor", "starling_plugin_cleanup", "starling_plugin_init",
                        "starling_plugin_version"])
    }

    /// The server's allow / deny / ignore decides CONNECT (v5 reason codes, 3.1.1 return codes),
    /// and it is sent what EMQX sends: clientid, username, password, peerhost, as JSON, with the
    /// configured headers. Without a cache every connect asks.
    func testCredentialsAreAcceptedAndRefusedByTheServer() async throws {
        let server = try await startServer { request in
            switch (request.fields["username"], request.fields["password"]) {
            case ("alice", "right"): .result("allow")
            case ("nobody", _): .result("ignore")
            case ("empty", _): TestHTTPServer.Reply(status: 204)
            default: .result("deny")
            }
        }
        try await startNode(authHTTP: [("url", "\(server.url)/auth"), ("cache_ttl", "0"), ("header.X-Api-Key", "k1")]) {
            $0.settings.authentication.noMatch = .allow  // what "ignore" falls to
        }
        _ = try await connect("alice-5", username: "alice", password: "right")
        _ = try await connect("alice-3", version: .v3_1_1, username: "alice", password: "right")
        let wrong = try await refusal("wrong-5", username: "alice", password: "wrong")
        XCTAssertEqual(wrong, .badUserNameOrPassword)
        let wrongOld = try await refusal("wrong-3", version: .v3_1_1, username: "alice", password: "wrong")
        XCTAssertEqual(wrongOld?.connectReturnCode, 4)
        _ = try await connect("nobody-5", username: "nobody", password: "x")  // ignore: authentication.no_match
        _ = try await connect("empty-5", username: "empty", password: "x")    // 204: allow

        let asked = server.requests(to: "/auth")
        XCTAssertEqual(asked.count, 6)
        let first = try XCTUnwrap(asked.first)
        XCTAssertEqual(first.method, "POST")
        XCTAssertEqual(first.fields["clientid"], "alice-5")
        XCTAssertEqual(first.fields["username"], "alice")
        XCTAssertEqual(first.fields["password"], "right")
        XCTAssertEqual(first.fields["peerhost"], "127.0.0.1")
        XCTAssertEqual(first.headers["content-type"], "application/json")
        XCTAssertEqual(first.headers["x-api-key"], "k1")
        _ = try await connect("alice-again", username: "alice", password: "right")
        XCTAssertEqual(server.requests(to: "/auth").count, 7, "cache_ttl = 0: asked every time")
    }

    /// The server decides each publish and subscription; a refused message reaches nobody, and the
    /// allowed ones arrive in order.
    func testPublishAndSubscribeAreDecidedByTheServer() async throws {
        let server = try await startServer { request in
            let topic = request.fields["topic"] ?? ""
            return .result(topic.hasPrefix("open/") || topic == "#" ? "allow" : "deny")
        }
        try await startNode(authHTTP: [("acl_url", "\(server.url)/acl"), ("method", "post")])
        let watcher = try await connect("watcher")
        let seen = Inbox(watcher)
        let ack = try await watcher.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce),
                                               TopicSubscription(filter: "secret/#", qos: .atLeastOnce),
                                               TopicSubscription(filter: "open/#", qos: .exactlyOnce)])
        XCTAssertEqual(ack.reasonCodes, [.grantedQoS1, .notAuthorized, .grantedQoS2])

        let publisher = try await connect("publisher")
        let old = try await connect("publisher-3", version: .v3_1_1)
        let open1 = try await publisher.publish("open/1", payload: "one", qos: .atLeastOnce)
        XCTAssertEqual(open1?.reasonCode, .success)
        let secret = try await publisher.publish("secret/1", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(secret?.reasonCode, .notAuthorized)
        let oldSecret = try await old.publish("secret/2", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(oldSecret?.reasonCode, .success, "3.1.1 cannot be told: acknowledged and dropped")
        try await publisher.publish("open/2", payload: "two", qos: .atLeastOnce)
        let received1 = try await seen.wait(for: 2)
        XCTAssertEqual(received1, ["one", "two"])
        try await settle(.milliseconds(200))
        XCTAssertEqual(seen.texts, ["one", "two"], "no refused message delivered")

        let question = try XCTUnwrap(server.requests(to: "/acl").first { $0.fields["topic"] == "secret/1" })
        XCTAssertEqual(question.fields["action"], "publish")
        XCTAssertEqual(question.fields["clientid"], "publisher")
        XCTAssertEqual(question.fields["qos"], "1")
        let subscription = try XCTUnwrap(server.requests(to: "/acl").first { $0.fields["topic"] == "secret/#" })
        XCTAssertEqual(subscription.fields["action"], "subscribe")
        XCTAssertTrue(publisher.isActive && old.isActive && watcher.isActive)
    }

    /// A repeated question is answered from the cache, not sent again; the cache holds at most
    /// cache_max_size answers. GET sends the fields as query parameters.
    func testCacheAnswersARepeatedQuestion() async throws {
        let server = try await startServer { _ in .result("allow") }
        try await startNode(authHTTP: [("url", "\(server.url)/auth"), ("acl_url", "\(server.url)/acl"), ("method", "GET"),
                                       ("cache_ttl", "60000"), ("cache_max_size", "2")])
        for password in ["p", "p", "q"] {
            let client = try await connect("cached", username: "u", password: password)
            try await client.disconnect()
        }
        XCTAssertEqual(server.requests(to: "/auth").count, 2, "the second identical connect was answered by the cache")
        XCTAssertEqual(server.requests(to: "/auth").count, 2, "a different password is a different question")
        XCTAssertEqual(server.requests(to: "/auth").first?.fields["username"], "u", "GET: fields in the query")

        let client = try await connect("pub", username: "u", password: "p")
        for topic in ["t/a", "t/a", "t/b", "t/a", "t/c", "t/d", "t/a"] {
            let ack = try await client.publish(topic, payload: "x", qos: .atLeastOnce)
            XCTAssertNotEqual(ack?.reasonCode, .notAuthorized)
        }
        let asked = server.requests(to: "/acl").compactMap { $0.fields["topic"] }
        // t/a cached; t/b joins (2 answers); t/a still there; t/c and t/d push t/a out: asked again.
        XCTAssertEqual(asked, ["t/a", "t/b", "t/c", "t/d", "t/a"])
    }

    /// The server answers after the plugin's timeout: on_error = deny refuses (0x87 / 3.1.1 code 5)
    /// — and meanwhile other clients connect, subscribe and publish: only the slow one waits.
    func testTimeoutIsAnsweredByOnErrorWhileOtherClientsKeepWorking() async throws {
        let server = try await startServer { request in
            request.fields["clientid"]?.hasPrefix("slow") == true ? .result("allow", after: .seconds(4)) : .result("allow")
        }
        try await startNode(authHTTP: [("url", "\(server.url)/auth"), ("acl_url", "\(server.url)/acl"), ("timeout", "1500")])
        let started = ContinuousClock.now
        let slow = Task { try await self.refusal("slow-5", username: "s", password: "s") }
        let slowOld = Task { try await self.refusal("slow-3", version: .v3_1_1, username: "s", password: "s") }  // two: one per event loop (settings.eventLoops = 2), so a plugin that blocked would stall both
        try await waitUntil("the slow clients' questions reach the server") { server.requests(to: "/auth").count >= 2 }

        let fast = try await connect("fast", username: "f", password: "f")
        let inbox = Inbox(fast)
        _ = try await fast.subscribe([TopicSubscription(filter: "fast/#", qos: .atLeastOnce)])
        try await fast.publish("fast/1", payload: "meanwhile", qos: .atLeastOnce)
        let received2 = try await inbox.wait(for: 1)
        XCTAssertEqual(received2, ["meanwhile"])
        let fastDone = ContinuousClock.now - started

        let slowCode = try await slow.value
        let slowOldCode = try await slowOld.value
        let slowDone = ContinuousClock.now - started
        XCTAssertEqual(slowCode, .notAuthorized)
        XCTAssertEqual(slowOldCode?.connectReturnCode, 5)
        XCTAssertLessThan(fastDone, slowDone, "the fast client was served while the slow ones waited")
        // 1500 ms, not the whole second URLSession would round it down to, nor the server's late answer.
        XCTAssertGreaterThanOrEqual(slowDone, .milliseconds(1450), "refused by the plugin's timeout")
        XCTAssertLessThan(slowDone, .milliseconds(3500), "not by the server's late answer")
        try await log.wait(for: "authenticate slow-5: POST \(server.url)/auth failed: no answer within 1500 ms; on_error = deny")
    }

    /// Nothing listens at the URL: on_error = deny refuses connect, publish and subscribe;
    /// on_error = ignore leaves them to the broker's no_match settings.
    func testServerDownIsAnsweredByOnError() async throws {
        let url = "http://127.0.0.1:\(try closedPort())"
        try await startNode(authHTTP: [("url", "\(url)/auth"), ("acl_url", "\(url)/acl"), ("timeout", "2000")])
        let denied = try await refusal("down-5", username: "u", password: "p")
        XCTAssertEqual(denied, .notAuthorized)
        let deniedOld = try await refusal("down-3", version: .v3_1_1, username: "u", password: "p")
        XCTAssertEqual(deniedOld?.connectReturnCode, 5)
        try await log.wait(for: "authenticate down-5: POST \(url)/auth failed:")
        await stopNode()

        try await startNode(authHTTP: [("url", "\(url)/auth"), ("acl_url", "\(url)/acl"), ("on_error", "ignore")]) {
            $0.settings.authentication.noMatch = .allow
        }
        let client = try await connect("down-ignored", username: "u", password: "p")
        let inbox = Inbox(client)
        let ack = try await client.subscribe([TopicSubscription(filter: "d/#", qos: .atLeastOnce)])
        XCTAssertEqual(ack.reasonCodes, [.grantedQoS1], "ignore: authorization.no_match (allow) decides")
        try await client.publish("d/1", payload: "through", qos: .atLeastOnce)
        let received3 = try await inbox.wait(for: 1)
        XCTAssertEqual(received3, ["through"])
        try await log.wait(for: "on_error = ignore")
    }

    /// Bad options fail the load with a message naming the option.
    func testBadOptionsFailTheLoad() async throws {
        let plugin = try SwiftPluginBuilder.authHTTP()
        try await startNode()
        for (options, message) in [([PluginOption](), "set url (authentication) or acl_url (authorization), or both"),
                                   ([PluginOption(key: "url", value: "ftp://x")], "url must be an http:// or https:// URL"),
                                   ([PluginOption(key: "url", value: "http://x"), PluginOption(key: "on_error", value: "allow")],
                                    "on_error must be deny or ignore"),
                                   ([PluginOption(key: "acl_url", value: "http://x"), PluginOption(key: "timeout", value: "0")],
                                    "timeout must be an integer in 1...600000"),
                                   ([PluginOption(key: "acl_url", value: "http://x"), PluginOption(key: "colour", value: "red")],
                                    "unknown option 'colour'")] {
            _ = try await loadFailure(plugin, options: options)
            try await log.wait(for: message)
        }
    }

    /// 20 reloads while a subscriber and a publisher stay connected and every publish asks the
    /// server through the version in place: nobody is dropped, nothing is lost, and when the old
    /// versions are cleaned up the process has no more threads than before and the server sees no
    /// connection of theirs left open.
    func testTwentyReloadsLeaveNoThreadsBehindAndDropNoClient() async throws {
        let server = try await startServer { request in
            .result(request.fields["topic"]?.hasPrefix("forbidden/") == true ? "deny" : "allow")
        }
        let node = try await startNode(authHTTP: [("url", "\(server.url)/auth"), ("acl_url", "\(server.url)/acl"),
                                                  ("cache_ttl", "0")])
        let subscriber = try await connect("steady-sub", username: "s", password: "s")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce)])
        let publisher = try await connect("steady-pub", username: "p", password: "p")
        try await publisher.publish("load/0", payload: "0", qos: .atLeastOnce)
        _ = try await inbox.wait(for: 1)
        try await Task.sleep(for: .seconds(1))
        let before = processThreadCount()

        for round in 1...20 {
            try await node.plugins.reload(name: "auth-http")
            let ack = try await publisher.publish("load/\(round)", payload: "\(round)", qos: .atLeastOnce)
            XCTAssertEqual(ack?.reasonCode, .success, "round \(round)")
            let refused = try await publisher.publish("forbidden/\(round)", payload: "no", qos: .atLeastOnce)
            XCTAssertEqual(refused?.reasonCode, .notAuthorized, "round \(round): authorization never lapses")
        }
        let received4 = try await inbox.wait(for: 21)
        XCTAssertEqual(received4, (0...20).map(String.init), "nothing lost, nothing refused delivered")
        XCTAssertTrue(subscriber.isActive && publisher.isActive, "nobody dropped")
        XCTAssertEqual(log.lines(containing: "] stopped").count + log.lines(containing: "stopped, but").count, 20)
        XCTAssertEqual(server.requests(to: "/acl").count, 1 + 1 + 40, "every publish asked the version in place")

        let threads = NIOLockedValueBox(processThreadCount())
        try? await waitUntil("no more threads than before", timeout: .seconds(15)) {  // idle Dispatch workers retire on their own
            threads.withLockedValue { $0 = processThreadCount(); return $0 <= before }
        }
        let after = threads.withLockedValue { $0 }
        XCTAssertLessThanOrEqual(after, before, "threads before 20 reloads: \(before), after: \(after)")
        try await waitUntil("the old versions' HTTP connections closed") { server.openConnections <= 1 }
        _ = try await connect("after-reloads", username: "a", password: "a")
    }
}
