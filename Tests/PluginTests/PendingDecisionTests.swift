import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import StarlingKernel
import StarlingServer
import XCTest
import StarlingTestSupport

/// Asynchronous decisions (ABI 1.2) through real clients and a real plugin that answers PENDING
/// and completes from threads of its own: connect, authenticate, publish, subscribe, the will;
/// ordering behind a pending PUBLISH; the timeout; answers after the client left; unload.
final class PendingDecisionTests: PluginTestCase, @unchecked Sendable {
    private func pendingPlugin() throws -> String {
        try PluginBuilder.threadedPlugin("pending_plugin.c", into: directory, output: "pending.so")
    }

    private func startPending(_ options: KeyValuePairs<String, String>, timeout: Int = 5) async throws {
        try await startNode(plugins: [entry(try pendingPlugin(), name: "pending", options)]) {
            $0.settings.pendingTimeout = timeout
        }
    }

    func testPendingAuthenticateAllowsAndDenies() async throws {
        try await startPending(["pending": "authenticate", "delay_ms": "300"])
        let start = ContinuousClock.now
        let good = try await connect("good-1", username: "good", password: "x")
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(250), "CONNACK waited for the answer")
        XCTAssertTrue(good.isActive)
        let refused = try await refusal("bad-1", username: "deny", password: "x")
        XCTAssertEqual(refused, .badUserNameOrPassword, "DENY with value 0 takes the hook's preset 0x86")
        let old = try await refusal("bad-3", version: .v3_1_1, username: "deny", password: "x")
        XCTAssertEqual(old?.connectReturnCode, 4)
        // IGNORE resumes the chain: no other plugin, so authentication.no_match (deny) decides.
        let ignored = try await refusal("ignored", username: "ignore", password: "x")
        XCTAssertEqual(ignored, .badUserNameOrPassword)
        XCTAssertEqual(log.lines(containing: "complete authenticate -> 0").count, 4)
    }

    func testAnswerGivenInsideTheCallbackBeforePendingIsReturned() async throws {
        try await startPending(["pending": "authenticate,authorize_publish", "inside": "1"])
        let client = try await connect("inside", username: "good", password: "x")
        let refused = try await refusal("inside-bad", username: "deny", password: "x")
        XCTAssertEqual(refused, .badUserNameOrPassword)
        let denied = try await client.publish("deny/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        let allowed = try await client.publish("ok/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(allowed?.reasonCode, .noMatchingSubscribers)
    }

    /// A plugin that answers a ticket and then returns a decision rather than PENDING: the
    /// returned value counts, and the answer kept for the ticket does not stay behind.
    func testAnAnswerForACallThatDidNotReturnPendingIsDropped() async throws {
        try await startPending(["pending": "authorize_publish", "inside": "2"])
        let client = try await connect("confused")
        for index in 0..<20 {
            let denied = try await client.publish("deny/\(index)", payload: "x", qos: .atLeastOnce)
            XCTAssertEqual(denied?.reasonCode, .notAuthorized)
            let allowed = try await client.publish("ok/\(index)", payload: "x", qos: .atLeastOnce)
            XCTAssertEqual(allowed?.reasonCode, .noMatchingSubscribers)
        }
        XCTAssertEqual(log.lines(containing: "complete authorize_publish -> 0").count, 40, "each answer was taken")
        XCTAssertEqual(try node.broker.hooks.openTickets, 0, "and none kept")
    }

    func testPendingClientConnectRejectsWithItsReasonCode() async throws {
        try await startPending(["pending": "client_connect"])
        let banned = try await refusal("deny-me")
        XCTAssertEqual(banned, .banned)
        let old = try await refusal("deny-old", version: .v3_1_1)
        XCTAssertEqual(old?.connectReturnCode, 5, "3.1.1: not authorized")
        let welcome = try await connect("welcome")
        XCTAssertTrue(welcome.isActive)
    }

    func testPendingPublishAllowedAndDenied() async throws {
        try await startPending(["pending": "authorize_publish"])
        let subscriber = try await connect("watcher")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce)])
        let publisher = try await connect("publisher")
        let denied = try await publisher.publish("deny/1", payload: "no", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        let deniedQoS2 = try await publisher.publish("deny/2", payload: "no", qos: .exactlyOnce)
        XCTAssertEqual(deniedQoS2?.reasonCode, .notAuthorized)
        let allowed = try await publisher.publish("ok/1", payload: "yes", qos: .atLeastOnce)
        XCTAssertEqual(allowed?.reasonCode, .success)
        let allowedQoS2 = try await publisher.publish("ok/2", payload: "yes 2", qos: .exactlyOnce)
        XCTAssertEqual(allowedQoS2?.reasonCode, .success)
        try await inbox.wait(for: 2)
        try await settle()
        XCTAssertEqual(inbox.texts, ["yes", "yes 2"])
        XCTAssertEqual(try node.broker.stats.authorizations["publish"], ["allow": 2, "deny": 2])
    }

    func testPendingSubscribeLowersQoSAndDeniesOneFilter() async throws {
        try await startPending(["pending": "authorize_subscribe", "subscribe_qos": "0"])
        let client = try await connect("subscriber")
        let ack = try await client.subscribe([TopicSubscription(filter: "a/b", qos: .exactlyOnce),
                                              TopicSubscription(filter: "deny/x", qos: .atLeastOnce),
                                              TopicSubscription(filter: "c/#", qos: .atLeastOnce)])
        XCTAssertEqual(ack.reasonCodes, [.success, .notAuthorized, .success], "QoS 0 granted, as the answer lowered it")
        // The subscriptions are in force: a message reaches the client at the granted QoS.
        let inbox = Inbox(client)
        let other = try await connect("other")
        try await other.publish("c/d", payload: "hello", qos: .atLeastOnce)
        try await inbox.wait(for: 1)
        XCTAssertEqual(inbox.all.first?.qos, .atMostOnce)
    }

    /// A client whose first PUBLISH waits for an answer sends 100 more: all arrive after the
    /// answer, in order, while another client's messages flow meanwhile.
    func testPacketsBehindAPendingPublishKeepTheirOrderAndOthersFlow() async throws {
        try await startPending(["pending": "authorize_publish", "delay_ms": "800"])
        let subscriber = try await connect("watcher")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([TopicSubscription(filter: "#", qos: .atLeastOnce)])
        let slow = try await connect("slow")
        let fast = try await connect("fast")
        try await slow.publish("slow/first", payload: "first", qos: .atMostOnce)
        for index in 0..<100 {
            try await slow.publish("sync/slow", payload: "s\(index)", qos: .atMostOnce)
        }
        let ack = try await fast.publish("sync/fast", payload: "fast", qos: .atLeastOnce)
        XCTAssertEqual(ack?.reasonCode, .success)
        try await inbox.wait(for: 1)
        XCTAssertEqual(inbox.texts, ["fast"], "the other client's message passed while slow's waited")
        try await inbox.wait(for: 102)
        XCTAssertEqual(Array(inbox.texts.dropFirst()), ["first"] + (0..<100).map { "s\($0)" })
        XCTAssertTrue(slow.isActive)
    }

    func testTimeoutDeniesAndNamesThePluginAndHook() async throws {
        try await startPending(["pending": "authenticate,authorize_publish"], timeout: 1)
        XCTAssertEqual(try node.broker.stats.pendingTimeouts, 0)
        let start = ContinuousClock.now
        let silent = Task { try await self.refusal("silent", username: "never", password: "x") }
        try await waitUntil("the open ticket is counted") { try self.node.broker.stats.pendingOpen == 1 }
        let refused = try await silent.value
        XCTAssertEqual(refused, .notAuthorized)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(900))
        try await log.wait(for: "plugin pending did not answer its authenticate hook within 1 s")
        let client = try await connect("publisher", username: "good", password: "x")
        let denied = try await client.publish("never/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        try await log.wait(for: "plugin pending did not answer its authorize_publish hook within 1 s")
        XCTAssertTrue(client.isActive)
        XCTAssertEqual(try node.broker.hooks.openTickets, 0)
        XCTAssertEqual(try node.broker.stats.pendingOpen, 0)
        XCTAssertEqual(try node.broker.stats.pendingTimeouts, 2, "one authenticate, one authorize_publish")
        let answered = try await client.publish("ok/1", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(answered?.reasonCode, .noMatchingSubscribers)
        XCTAssertEqual(try node.broker.stats.pendingTimeouts, 2, "an answer that comes is no timeout")
    }

    func testAnswerAfterTheClientLeftIsDropped() async throws {
        try await startPending(["pending": "authenticate", "late_ms": "700"])
        let port = try node.mqttPort
        let impatient = MQTTClientConfiguration(port: port, clientId: "impatient", username: "late",
                                                password: Array("x".utf8), connectTimeout: .milliseconds(200))
        do {
            _ = try await MQTTClient.connect(impatient)
            XCTFail("CONNACK came before the answer")
        } catch let error as MQTTClientError {
            XCTAssertEqual(error.code, .timeout)
        }
        try await log.wait(for: "complete authenticate -> -4")  // STARLING_ERR_NOT_FOUND
        XCTAssertEqual(try node.broker.hooks.openTickets, 0)
        let next = try await connect("next", username: "good", password: "x")
        XCTAssertTrue(next.isActive)
    }

    /// Unloading a plugin with an open ticket waits for its answer; the client gets it, and
    /// cleanup runs after.
    func testUnloadWaitsForOpenTickets() async throws {
        try await startPending(["pending": "authenticate", "delay_ms": "1000"])
        let connecting = Task { try await self.connect("waiting", username: "good", password: "x") }
        try await waitUntil("a ticket is open") { try self.node.broker.hooks.openTickets == 1 }
        let start = ContinuousClock.now
        try await node.plugins.unload(name: "pending")
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(500), "unload waited for the ticket")
        XCTAssertFalse(log.lines(containing: "plugin pending: waiting for 1 calls in flight or open tickets").isEmpty)
        let client = try await connecting.value
        XCTAssertTrue(client.isActive, "the pending client got its answer from the unloaded version")
        let answered = try XCTUnwrap(log.index(of: "complete authenticate -> 0"))
        let cleanedUp = try XCTUnwrap(log.index(of: "pending plugin cleanup done"))
        XCTAssertLessThan(answered, cleanedUp)
    }

    /// A reload while a client waits for the old version's answer: the client gets it, the new
    /// version answers what comes after.
    func testReloadWithAnOpenTicketDropsNobody() async throws {
        try await startPending(["pending": "authenticate", "delay_ms": "700"])
        let connecting = Task { try await self.connect("during-reload", username: "good", password: "x") }
        try await waitUntil("a ticket is open") { try self.node.broker.hooks.openTickets == 1 }
        try await node.plugins.reload(name: "pending")
        let client = try await connecting.value
        XCTAssertTrue(client.isActive)
        let after = try await refusal("after-reload", username: "deny", password: "x")
        XCTAssertEqual(after, .badUserNameOrPassword, "the new version answers")
    }

    /// A hook written in Swift against the kernel answers `.pending` and completes through the
    /// registry, as the C bridge does.
    func testSwiftHookAnswersPendingThroughTheRegistry() async throws {
        try await startNode()
        let registry = try node.broker.hooks
        let owner = registry.makeOwner(name: "swift-async")
        await registry.update { chains in
            chains.authorizePublish.add({ request, publish in
                guard let ticket = request.ticket else { return .deny(.notAuthorized) }
                let answer = HookCompletion(publish.topic.hasPrefix("deny/") ? .deny(.notAuthorized) : .allow)
                Task {
                    try? await Task.sleep(for: .milliseconds(100))
                    registry.complete(ticket, by: owner, answer)
                }
                return .pending
            }, priority: 0, owner: owner)
        }
        let client = try await connect("swift-hooked")
        let denied = try await client.publish("deny/x", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(denied?.reasonCode, .notAuthorized)
        let allowed = try await client.publish("ok/x", payload: "x", qos: .atLeastOnce)
        XCTAssertEqual(allowed?.reasonCode, .noMatchingSubscribers)
        XCTAssertFalse(registry.complete(PendingTicket(12_345), by: owner, HookCompletion(.allow)), "unknown ticket")
    }

    /// The will is authorized at CONNECT: one the client may not publish refuses the connection.
    func testDeniedWillRefusesTheConnect() async throws {
        try await startPending(["pending": "authorize_publish"])
        let port = try node.mqttPort
        for (version, expected) in [(ProtocolVersion.v5, ReasonCode.notAuthorized), (.v3_1_1, .notAuthorized)] {
            var configuration = MQTTClientConfiguration(port: port, version: version, clientId: "will-\(version)")
            configuration.will = Will(topic: "deny/will", payload: ByteBuffer(string: "bye"), qos: .atLeastOnce)
            do {
                _ = try await MQTTClient.connect(configuration)
                XCTFail("a client with a denied will was accepted")
            } catch let error as MQTTClientError where error.code == .connectionRefused {
                XCTAssertEqual(error.connAck?.reasonCode, expected)
                if version == .v3_1_1 { XCTAssertEqual(error.connAck?.reasonCode.connectReturnCode, 5) }
            }
        }
        var allowed = MQTTClientConfiguration(port: port, clientId: "will-ok")
        allowed.will = Will(topic: "ok/will", payload: ByteBuffer(string: "bye"), qos: .atLeastOnce)
        let client = try await MQTTClient.connect(allowed)
        XCTAssertTrue(client.isActive)
        await client.closeAbruptly()
    }
}
