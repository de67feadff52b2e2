import MQTTCore
import NIOCore
import XCTest
@testable import StarlingKernel

/// The pure steps of a CONNECT (client id and will checks, negotiation) and the connection's
/// phase transitions, without a channel.
final class ConnectValidationTests: XCTestCase {
    private func clientId(_ id: String, _ version: ProtocolVersion, cleanStart: Bool,
                          maxLength: Int = 65_535) -> Result<String, ConnectValidation.Refusal> {
        var limits = MQTTLimits()
        limits.maxClientIdLength = maxLength
        let connect = Connect(protocolVersion: version, cleanStart: cleanStart, clientIdentifier: id)
        return ConnectValidation.clientId(connect, limits: limits, assign: { "assigned-id" })
    }

    private func refusalCode<T>(_ result: Result<T, ConnectValidation.Refusal>) -> UInt8? {
        if case .failure(let refusal) = result { return refusal.code.rawValue }
        return nil
    }

    func testEmptyClientIdWithoutCleanSessionIsRefusedOn311() {
        XCTAssertEqual(refusalCode(clientId("", .v3_1_1, cleanStart: false)), 0x85)
        XCTAssertEqual(try clientId("", .v3_1_1, cleanStart: true).get(), "assigned-id")
    }

    func testEmptyClientIdIsRefusedOn31AndAssignedOn5() {
        XCTAssertEqual(refusalCode(clientId("", .v3_1, cleanStart: true)), 0x85)
        XCTAssertEqual(try clientId("", .v5, cleanStart: false).get(), "assigned-id")
    }

    func testClientIdLongerThanTheLimitIsRefused() {
        XCTAssertEqual(try clientId("abcd", .v5, cleanStart: true, maxLength: 4).get(), "abcd")
        guard case .failure(let refusal) = clientId("abcde", .v5, cleanStart: true, maxLength: 4) else {
            return XCTFail("a 5-byte id with a limit of 4 was accepted")
        }
        XCTAssertEqual(refusal, ConnectValidation.Refusal(.clientIdentifierNotValid, "client id longer than 4 bytes"))
        // The limit counts UTF-8 bytes: "éé" is 4 bytes.
        XCTAssertNotNil(refusalCode(clientId("ééé", .v5, cleanStart: true, maxLength: 4)))
    }

    private func will(_ will: Will, _ configure: (inout MQTTLimits) -> Void = { _ in })
        -> Result<LastWill?, ConnectValidation.Refusal> {
        var limits = MQTTLimits()
        configure(&limits)
        return ConnectValidation.will(will, limits: limits, publisherId: "c", username: "u", now: .now())
    }

    private func payload(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    func testCertificateIdentityReplacesWhatTheClientSent() {
        var limits = MQTTLimits()
        let connect = Connect(clientIdentifier: "own-id", username: "mallory")
        let security = TransportSecurity(protocolVersion: "tlsv1.3", peerCommonName: "alice",
                                         peerDistinguishedName: "CN=alice,O=Example")
        func apply(_ security: TransportSecurity?) -> (Connect, [String]) {
            ConnectValidation.certificateIdentity(connect, security: security, limits: limits)
        }
        XCTAssertEqual(apply(security).0, connect, "none: the client's own")
        limits.peerCertAsUsername = .cn
        limits.peerCertAsClientId = .dn
        let (replaced, log) = apply(security)
        XCTAssertEqual(replaced.username, "alice")
        XCTAssertEqual(replaced.clientIdentifier, "CN=alice,O=Example")
        XCTAssertEqual(log, [#"username "mallory" -> "alice""#, #"client id "own-id" -> "CN=alice,O=Example""#])
        XCTAssertEqual(apply(nil).0, connect, "without TLS the settings do nothing")
        XCTAssertEqual(apply(TransportSecurity(protocolVersion: "tlsv1.2")).0, connect, "nor without a certificate")
        limits.peerCertAsClientId = .none
        let noCommonName = TransportSecurity(protocolVersion: "tlsv1.3", peerDistinguishedName: "O=Example")
        XCTAssertEqual(apply(noCommonName).0, connect, "a certificate without the field leaves the client's own")
    }

    func testWillQoSAboveTheMaximumIsRefused() {
        let qos2 = Will(topic: "w", payload: payload([1]), qos: .exactlyOnce)
        XCTAssertEqual(refusalCode(will(qos2) { $0.maxQoS = 1 }), 0x9B)
        XCTAssertNil(refusalCode(will(qos2)))
    }

    func testRetainedWillWithoutRetainIsRefused() {
        let retained = Will(topic: "w", payload: payload([1]), retain: true)
        XCTAssertEqual(refusalCode(will(retained) { $0.retainAvailable = false }), 0x9A)
        XCTAssertNil(refusalCode(will(Will(topic: "w", payload: payload([1]))) { $0.retainAvailable = false }))
    }

    func testInvalidWillTopicIsRefused() {
        XCTAssertEqual(refusalCode(will(Will(topic: "a/+", payload: payload([1])))), 0x90)
        XCTAssertEqual(refusalCode(will(Will(topic: "a/#", payload: payload([1])))), 0x90)
        XCTAssertEqual(refusalCode(will(Will(topic: "a/b/c", payload: payload([1]))) { $0.maxTopicLevels = 2 }), 0x90)
        XCTAssertEqual(refusalCode(will(Will(topic: "abcdef", payload: payload([1]))) { $0.maxTopicLength = 5 }), 0x90)
    }

    func testWillPayloadThatIsNotUTF8AsItsFormatSaysIsRefused() {
        var properties = Properties()
        properties.payloadFormatIndicator = 1
        XCTAssertEqual(refusalCode(will(Will(topic: "w", payload: payload([0xFF, 0xFE]), properties: properties))), 0x99)
        XCTAssertNil(refusalCode(will(Will(topic: "w", payload: payload(Array("ok".utf8)), properties: properties))))
    }

    func testValidWillBecomesTheMessageWithItsDelay() throws {
        var properties = Properties()
        properties.willDelayInterval = 30
        let accepted = try will(Will(topic: "last/will", payload: payload([7]), qos: .atLeastOnce,
                                     properties: properties)).get()
        let lastWill = try XCTUnwrap(accepted)
        XCTAssertEqual(lastWill.delay, 30)
        XCTAssertEqual(lastWill.message.topic, "last/will")
        XCTAssertEqual(lastWill.message.qos, .atLeastOnce)
        XCTAssertNil(try ConnectValidation.will(nil, limits: MQTTLimits(), publisherId: "c", username: nil,
                                                now: .now()).get())
    }
}

final class ConnectNegotiationTests: XCTestCase {
    private func negotiate(_ connect: Connect, assigned: String? = nil,
                           authentication: (method: String, data: ByteBuffer?)? = nil,
                           _ configure: (inout BrokerSettings) -> Void = { _ in }) -> ConnectNegotiation {
        var settings = BrokerSettings()
        configure(&settings)
        return ConnectNegotiation(connect, clientId: connect.clientIdentifier.isEmpty ? (assigned ?? "") : connect.clientIdentifier,
                                  assignedClientId: assigned, authentication: authentication, settings: settings)
    }

    private func v5(expiry: UInt32? = nil, receiveMaximum: UInt16? = nil, keepAlive: UInt16 = 60) -> Connect {
        var properties = Properties()
        properties.sessionExpiryInterval = expiry
        properties.receiveMaximum = receiveMaximum
        return Connect(protocolVersion: .v5, keepAlive: keepAlive, clientIdentifier: "c", properties: properties)
    }

    func testSessionExpiryIsCappedAndTheCapEchoed() {
        // (requested, granted, echoed in CONNACK) with a cap of 100 s.
        let cases: [(UInt32, UInt32, UInt32?)] = [(1_000, 100, 100), (50, 50, nil), (100, 100, nil)]
        for (requested, granted, echoed) in cases {
            let negotiated = negotiate(v5(expiry: requested)) { $0.session.maxSessionExpiry = 100 }
            XCTAssertEqual(negotiated.sessionExpiry, granted, "requested \(requested)")
            XCTAssertEqual(negotiated.ackProperties.sessionExpiryInterval, echoed, "requested \(requested)")
        }
    }

    func testReceiveMaximumIsCappedByMaxInflight() {
        XCTAssertEqual(negotiate(v5(receiveMaximum: 1_000)) { $0.session.maxInflight = 10 }.sendQuota, 10)
        XCTAssertEqual(negotiate(v5(receiveMaximum: 5)) { $0.session.maxInflight = 10 }.sendQuota, 5)
        XCTAssertEqual(negotiate(v5()) { $0.session.maxInflight = 300 }.sendQuota, 300)
    }

    func testServerKeepAliveOverridesTheClientsOn5Only() {
        // (the client's keep alive, the one in force, server keep alive in CONNACK) with 30 s configured.
        let cases: [(UInt16, Int, UInt16?)] = [(60, 30, 30), (30, 30, nil), (0, 30, 30)]
        for (asked, inForce, told) in cases {
            let negotiated = negotiate(v5(keepAlive: asked)) { $0.mqtt.serverKeepAlive = 30 }
            XCTAssertEqual(negotiated.keepAlive, inForce, "keep alive \(asked)")
            XCTAssertEqual(negotiated.ackProperties.serverKeepAlive, told, "keep alive \(asked)")
        }
        XCTAssertEqual(negotiate(v5(keepAlive: 45)).keepAlive, 45)
        let v311 = negotiate(Connect(protocolVersion: .v3_1_1, keepAlive: 60, clientIdentifier: "c")) {
            $0.mqtt.serverKeepAlive = 30
        }
        XCTAssertEqual(v311.keepAlive, 60)
    }

    func testAssignedClientIdAndAuthenticationAreEchoed() {
        let negotiated = negotiate(Connect(protocolVersion: .v5, clientIdentifier: ""), assigned: "starling-1",
                                   authentication: ("SCRAM", ByteBuffer(bytes: [1, 2])))
        XCTAssertEqual(negotiated.ackProperties.assignedClientIdentifier, "starling-1")
        XCTAssertEqual(negotiated.ackProperties.authenticationMethod, "SCRAM")
        XCTAssertEqual(negotiated.ackProperties.authenticationData, ByteBuffer(bytes: [1, 2]))
        XCTAssertNil(negotiate(v5()).ackProperties.assignedClientIdentifier)
    }

    func testLimitsAnnouncedWhereTheyDifferFromTheDefault() {
        let negotiated = negotiate(v5()) {
            $0.mqtt.maxQoS = 1
            $0.mqtt.retainAvailable = false
            $0.session.receiveMaximum = 20
        }
        XCTAssertEqual(negotiated.ackProperties.maximumQoS, 1)
        XCTAssertEqual(negotiated.ackProperties.retainAvailable, 0)
        XCTAssertEqual(negotiated.ackProperties.receiveMaximum, 20)
        XCTAssertNil(negotiate(v5()).ackProperties.maximumQoS)
    }

    func testPersistent3xSessionLivesUntilTheNodesCap() {
        let persistent = negotiate(Connect(protocolVersion: .v3_1_1, cleanStart: false, clientIdentifier: "c")) {
            $0.session.maxSessionExpiry = 3_600
            $0.session.maxInflight = 7
        }
        XCTAssertEqual(persistent.sessionExpiry, 3_600)
        XCTAssertEqual(persistent.sendQuota, 7)
        XCTAssertEqual(persistent.ackProperties, Properties())
        XCTAssertEqual(negotiate(Connect(protocolVersion: .v3_1, cleanStart: true, clientIdentifier: "c")).sessionExpiry, 0)
    }
}

final class ConnectionPhaseTests: XCTestCase {
    typealias Kind = ConnectionPhase.Kind

    func testTheConnectStepsGoForward() {
        let path: [Kind] = [.idle, .awaitingConnect, .authenticating, .claimingSession, .connected, .closing, .closed]
        for (from, to) in zip(path, path.dropFirst()) {
            XCTAssertTrue(ConnectionPhase.canMove(from: from, to: to), "\(from) -> \(to)")
        }
    }

    func testAnOpenConnectionMayCloseFromAnyStep() {
        for from: Kind in [.idle, .awaitingConnect, .authenticating, .claimingSession, .connected] {
            XCTAssertTrue(ConnectionPhase.canMove(from: from, to: .closing), "\(from) -> closing")
            XCTAssertTrue(ConnectionPhase.canMove(from: from, to: .closed), "\(from) -> closed")
        }
    }

    func testNoStepIsSkippedRepeatedOrUndone() {
        let illegal: [(Kind, Kind)] = [
            (.awaitingConnect, .connected), (.awaitingConnect, .claimingSession), (.authenticating, .connected),
            (.connected, .authenticating), (.connected, .claimingSession), (.claimingSession, .authenticating),
            (.awaitingConnect, .idle), (.connected, .connected), (.closing, .closing), (.closed, .closing),
            (.closed, .closed), (.closed, .awaitingConnect), (.closing, .connected), (.idle, .authenticating),
        ]
        for (from, to) in illegal {
            XCTAssertFalse(ConnectionPhase.canMove(from: from, to: to), "\(from) -> \(to)")
        }
    }

    func testTheTableHasFifteenMoves() {
        let moves = Kind.allCases.flatMap { from in Kind.allCases.map { (from, $0) } }
            .filter { ConnectionPhase.canMove(from: $0.0, to: $0.1) }
        XCTAssertEqual(moves.count, 15)
        XCTAssertFalse(moves.contains { $0.0 == .closed }, "nothing leaves closed")
    }

    func testTheEndingOfARefusedConnectOwesNothingButKeepsWhy() {
        let attempt = ConnectAttempt(Connect(clientIdentifier: "c"))
        let ending = ConnectionEnding(.authenticating(attempt), reason: .normal, cause: (.client, .success), takenOver: false)
        XCTAssertNil(ending.slot)
        XCTAssertNil(ending.session)
        XCTAssertFalse(ending.announced)
        XCTAssertEqual(ending.reason, .normal)
        XCTAssertEqual(ending.cause?.initiator, .client)
    }
}

/// What a connection owes when its channel goes, as each phase leaves it.
final class ConnectionEndingTests: KernelTestCase {
    private func slot() -> ConnectionSlot {
        ConnectionSlot()
    }

    private func lastWill(delay: UInt32) -> LastWill {
        let publish = Publish(topic: "w", payload: ByteBuffer(), qos: .atMostOnce, retain: false, properties: [])
        return LastWill(message: Message(publish: publish, topic: "w", publisherId: "c", now: .now()), delay: delay)
    }

    func testAConnectedClientOwesItsSessionAndWillUnlessTakenOver() {
        let session = makeSession("c")
        let client = ConnectedClient(ClaimingClient(session: session, slot: slot(), will: lastWill(delay: 5)))
        let ended = ConnectionEnding(.connected(client), reason: .normal, cause: (.client, .success), takenOver: false)
        XCTAssertTrue(ended.session === session)
        XCTAssertEqual(ended.will?.delay, 5)
        XCTAssertTrue(ended.announced)
        XCTAssertNotNil(ended.slot)
        let taken = ConnectionEnding(.connected(client), reason: .takeover, cause: (.server, .sessionTakenOver),
                                     takenOver: true)
        XCTAssertNil(taken.session)
        XCTAssertNil(taken.will)
        XCTAssertTrue(taken.announced, "a taken-over client was announced: its disconnect is too")
        XCTAssertNotNil(taken.slot)
        XCTAssertEqual(taken.reason, .takeover)
    }

    func testAClaimHoldsItsSlotAndWillButOwesNoSession() {
        let claim = ClaimingClient(session: makeSession("c"), slot: slot(), will: lastWill(delay: 0))
        claim.arrived.append(.pingreq)
        let ended = ConnectionEnding(.claimingSession(claim), reason: nil, cause: nil, takenOver: false)
        XCTAssertNil(ended.session, "the session is not attached before CONNACK")
        XCTAssertNotNil(ended.will, "kept for the session until the channel goes")
        XCTAssertNotNil(ended.slot)
        XCTAssertFalse(ended.announced)
        XCTAssertEqual(ConnectedClient(claim).held.count, 1, "what arrived during the claim is handled once connected")
    }

    func testASlotGivesBackTheNodesAndTheListenersPlaces() {
        let node = ConnectionLimit(maximum: 2)
        let listener = ConnectionLimit(maximum: 1)
        XCTAssertTrue(node.acquire())
        XCTAssertTrue(listener.acquire())
        XCTAssertFalse(listener.acquire())
        ConnectionSlot().release(node: node, listener: listener)
        XCTAssertEqual(node.count, 0)
        XCTAssertEqual(listener.count, 0)
        XCTAssertTrue(listener.acquire())
    }

    func testCarryingASlotCostsNoMemory() {
        XCTAssertEqual(MemoryLayout<ConnectionSlot>.size, 0, "an idle connection pays nothing for its slot")
    }
}
