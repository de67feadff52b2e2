import MQTTCore
import NIOCore

/// CONNECT, step by step:
/// 1. `handleConnect`: the client id (`ConnectValidation.clientId`), then the hooks;
/// 2. authentication and the will's authorization (`MQTTConnection+ConnectSteps`, enhanced
///    authentication in `MQTTConnection+EnhancedAuth`), each of which may wait for a pending answer;
/// 3. `finishConnect`: the connection limits (`takeConnectionSlot`), the will's validity
///    (`ConnectValidation.will`), the negotiation (`negotiate`, `ConnectNegotiation`);
/// 4. the session's claim (`claimSession`, `MQTTConnection+SessionClaim`);
/// 5. `completeConnect`: CONNACK, the session attached, the client announced.
extension MQTTConnection {
    /// CONNECT arrived: records what it says of the client (with the client certificate's identity
    /// where the settings ask for it), checks the client id, and asks the hooks.
    func handleConnect(_ sent: Connect) {
        let (connect, replaced) = ConnectValidation.certificateIdentity(sent, security: transportSecurity,
                                                                        limits: loopContext.settings.mqtt)
        if !replaced.isEmpty {
            logger.debug("identity from the client certificate: \(replaced.joined(separator: ", "))")
        }
        version = connect.protocolVersion
        username = connect.username
        cleanStart = connect.cleanStart
        if version == .v5 {
            requestProblemInformation = connect.properties.requestProblemInformation != 0
        }
        move(to: .authenticating(ConnectAttempt(connect, sentClientId: sent.clientIdentifier)))
        clientId = connect.clientIdentifier
        switch ConnectValidation.clientId(connect, limits: loopContext.settings.mqtt, assign: Self.makeClientId) {
        case .failure(let refusal): return refuse(refusal)
        case .success(let accepted): clientId = accepted
        }
        // Hooks: client_connect, authentication (plugins, else the anonymous rule), the will's
        // authorization; each may suspend the CONNECT until a pending answer.
        runClientConnectHooks(connect, loopContext.withHooks { $0.clientConnect }, from: 0)
    }

    /// The CONNECT passed its hooks: the connection limits, the will, the negotiation, then the
    /// session's claim (which answers CONNACK).
    func finishConnect(_ connect: Connect) {
        guard case .authenticating(let attempt) = phase else {
            return assertionFailure("CONNECT decided in phase \(phase.kind)")
        }
        guard let slot = takeConnectionSlot() else { return }
        attempt.slot = slot
        let will: LastWill?
        switch ConnectValidation.will(connect.will, limits: loopContext.settings.mqtt, publisherId: clientId,
                                      username: username, now: .now()) {
        case .failure(let refusal): return refuse(refusal)
        case .success(let valid): will = valid
        }
        let negotiated = negotiate(connect, sentClientId: attempt.sentClientId, exchange: attempt.exchange)
        claimSession(SessionClaimRequest(expiry: negotiated.sessionExpiry, resume: !connect.cleanStart, slot: slot,
                                         will: will, ackProperties: negotiated.ackProperties))
    }

    /// Counts the connection against the node's and the listener's limits; refuses it (nil) when
    /// the node is stopping or a limit is reached.
    private func takeConnectionSlot() -> ConnectionSlot? {
        guard !broker.shuttingDown.load(ordering: .relaxed) else {
            refuse(.serverUnavailable, "the node is shutting down")
            return nil
        }
        guard broker.connections.acquire() else {
            refuse(.quotaExceeded, "connection limit \(broker.connections.maximum) of the node reached")
            return nil
        }
        guard listenerLimit.acquire() else {
            broker.connections.release()
            refuse(.quotaExceeded, "connection limit \(listenerLimit.maximum) of the listener reached")
            return nil
        }
        notePeakConnections()
        return ConnectionSlot()
    }

    private func notePeakConnections() {
        let current = broker.connections.count
        var peak = broker.peakConnections.load(ordering: .relaxed)
        while current > peak {
            let (exchanged, original) = broker.peakConnections.compareExchange(
                expected: peak, desired: current, ordering: .relaxed)
            if exchanged { break }
            peak = original
        }
    }

    /// Agrees the session's expiry, the client's limits and the keep alive (`ConnectNegotiation`)
    /// and applies them to the connection.
    /// `sentClientId`: the id in the client's CONNECT; an empty one is told the id it got.
    private func negotiate(_ connect: Connect, sentClientId: String, exchange: AuthExchange?) -> ConnectNegotiation {
        let assignedClientId = sentClientId.isEmpty ? clientId : nil
        let negotiated = ConnectNegotiation(connect, clientId: clientId, assignedClientId: assignedClientId,
                                            authentication: authenticationMethod.map { ($0, exchange?.successData) },
                                            settings: loopContext.settings)
        sendQuota = negotiated.sendQuota
        clientMaximumPacketSize = negotiated.clientMaximumPacketSize
        clientTopicAliasMaximum = negotiated.clientTopicAliasMaximum
        negotiatedKeepAlive = negotiated.keepAlive
        startKeepAlive(seconds: negotiated.keepAlive)
        return negotiated
    }

    /// The session is claimed: sends CONNACK and attaches the session, then runs what arrived in
    /// the meantime.
    func completeConnect(session: Session, sessionPresent: Bool, ackProperties: Properties) {
        assertOnLoop()
        guard case .claimingSession(let claim) = phase else {
            // The socket closed during the hand-over: the session stays, without a connection.
            return sessionClaimedAfterClose(session)
        }
        let connAck = ConnAck(sessionPresent: sessionPresent, reasonCode: .success,
                              properties: version == .v5 ? ackProperties : [])
        if session.isSuperseded {
            // A newer connection with this client id took the session over while this one was
            // still connecting: it is accepted and at once told it was taken over.
            sendConnAck(connAck)
            _ = takeOver()
            return
        }
        session.recordConnection(ConnectionInfo(
            username: username, peer: channelContext.remoteAddress.flatMap(Self.describe),
            protocolVersion: version, keepAlive: negotiatedKeepAlive, cleanStart: cleanStart,
            connectedAt: Int64(NIODeadline.wallClockNow), security: transportSecurity))
        sendConnAck(connAck)
        move(to: .connected(ConnectedClient(claim)))
        logger.debug("client connected", metadata: ["protocol": "\(version)", "session_present": "\(sessionPresent)"])
        session.attach(self)
        announceConnected(sessionPresent: sessionPresent)
        handleHeldPackets()
    }

    /// The session was claimed for a connection that has closed since: the session hears at once
    /// that its connection ended (with the will while the channel has not gone yet).
    private func sessionClaimedAfterClose(_ session: Session) {
        var ending: ConnectionEnding?
        if case .closing(let closing) = phase { ending = closing }
        session.attach(self)
        session.connectionClosed(self, will: ending?.will?.message, willDelay: ending?.will?.delay ?? 0)
        ending?.will = nil
    }

    /// Answers CONNECT with a failure code and closes (before the claim: there is no will yet).
    func refuse(_ reasonCode: ReasonCode, _ why: String) {
        logger.info("refused connection: \(why)", metadata: ["reason_code": "\(reasonCode)"])
        var properties = Properties()
        if version == .v5, requestProblemInformation { properties.reasonString = why }
        sendConnAck(ConnAck(sessionPresent: false, reasonCode: reasonCode, properties: properties))
        close()
    }

    func refuse(_ refusal: ConnectValidation.Refusal) {
        refuse(refusal.code, refusal.why)
    }

    /// Checks the node's topic length and depth limits.
    @inline(__always)
    func checkTopicLimits(_ topic: String) -> Bool {
        loopContext.settings.mqtt.allowsTopic(topic)
    }

    /// `HOST:PORT` of a peer address.
    static func describe(_ address: SocketAddress) -> String? {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private static func makeClientId() -> String {
        var generator = SystemRandomNumberGenerator()
        let bits = generator.next() as UInt64
        return "starling-" + String(bits, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
