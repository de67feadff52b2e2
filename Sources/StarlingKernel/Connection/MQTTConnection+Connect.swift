import MQTTCore
import NIOCore

extension MQTTConnection {
    /// CONNECT: checks the client against the node's limits, claims (or takes over) its session,
    /// and answers CONNACK once the session is in place.
    func handleConnect(_ connect: Connect) {
        version = connect.protocolVersion
        username = connect.username
        cleanStart = connect.cleanStart
        let limits = loopContext.settings.mqtt
        if version == .v5 {
            requestProblemInformation = connect.properties.requestProblemInformation != 0
        }

        // Client identifier.
        clientId = connect.clientIdentifier
        if clientId.isEmpty {
            guard version == .v5 || (version == .v3_1_1 && connect.cleanStart) else {
                return refuse(.clientIdentifierNotValid, "empty client id without clean session")
            }
            clientId = Self.makeClientId()
        }
        guard clientId.utf8.count <= limits.maxClientIdLength else {
            return refuse(.clientIdentifierNotValid, "client id longer than \(limits.maxClientIdLength) bytes")
        }

        // Hooks: client_connect, authentication (plugins, else the anonymous rule), the will's
        // authorization; each may suspend the CONNECT until a pending answer.
        runClientConnectHooks(connect, loopContext.withHooks { $0.clientConnect }, from: 0)
    }

    /// The CONNECT passed its hooks: limits, the will, negotiation, the session, CONNACK.
    func finishConnect(_ connect: Connect) {
        let limits = loopContext.settings.mqtt
        let sessionSettings = loopContext.settings.session
        let assignedClientId = clientId == connect.clientIdentifier ? nil : clientId

        // Connection limits: the node's and the listener's.
        guard !broker.shuttingDown.load(ordering: .relaxed) else {
            return refuse(.serverUnavailable, "the node is shutting down")
        }
        guard broker.connections.acquire() else {
            return refuse(.quotaExceeded, "connection limit \(broker.connections.maximum) of the node reached")
        }
        guard listenerLimit.acquire() else {
            broker.connections.release()
            return refuse(.quotaExceeded, "connection limit \(listenerLimit.maximum) of the listener reached")
        }
        countedAsConnection = true
        let current = broker.connections.count
        var peak = broker.peakConnections.load(ordering: .relaxed)
        while current > peak {
            let (exchanged, original) = broker.peakConnections.compareExchange(
                expected: peak, desired: current, ordering: .relaxed)
            if exchanged { break }
            peak = original
        }

        // Will.
        if let connectWill = connect.will {
            guard connectWill.qos.rawValue <= limits.maxQoS else {
                return refuse(.qosNotSupported, "will QoS \(connectWill.qos) above the maximum \(limits.maxQoS)")
            }
            guard !connectWill.retain || limits.retainAvailable else {
                return refuse(.retainNotSupported, "retained will but retain is not available")
            }
            guard MQTTTopic.isValidName(connectWill.topic), checkTopicLimits(connectWill.topic) else {
                return refuse(.topicNameInvalid, "invalid will topic")
            }
            if connectWill.properties.payloadFormatIndicator == 1,
               !UTF8Validation.isValid(connectWill.payload) {
                return refuse(.payloadFormatInvalid, "will payload is not UTF-8 as its format indicator says")
            }
            let asPublish = Publish(topic: connectWill.topic, payload: connectWill.payload, qos: connectWill.qos,
                                    retain: connectWill.retain, properties: connectWill.properties)
            will = Message(publish: asPublish, topic: connectWill.topic, publisherId: clientId, publisherUsername: username,
                           now: .now())
            willDelay = connectWill.properties.willDelayInterval ?? 0
        }

        // Negotiated limits.
        var expiry: UInt32
        var ackProperties = Properties()
        if version == .v5 {
            let requested = connect.properties.sessionExpiryInterval ?? 0
            expiry = min(requested, UInt32(clamping: sessionSettings.maxSessionExpiry))
            if expiry != requested { ackProperties.sessionExpiryInterval = expiry }
            sendQuota = min(Int(connect.properties.receiveMaximum ?? 65_535), sessionSettings.maxInflight)
            clientMaximumPacketSize = Int(connect.properties.maximumPacketSize ?? UInt32.max)
            clientTopicAliasMaximum = Int(connect.properties.topicAliasMaximum ?? 0)
            if let assignedClientId { ackProperties.assignedClientIdentifier = assignedClientId }
            if connect.properties.requestResponseInformation == 1 {
                // A topic prefix the client may use for response topics.
                ackProperties.responseInformation = "responses/\(clientId)"
            }
            if sessionSettings.receiveMaximum < 65_535 {
                ackProperties.receiveMaximum = UInt16(sessionSettings.receiveMaximum)
            }
            ackProperties.maximumPacketSize = UInt32(limits.maxPacketSize)
            if limits.maxTopicAlias > 0 { ackProperties.topicAliasMaximum = UInt16(limits.maxTopicAlias) }
            if limits.maxQoS < 2 { ackProperties.maximumQoS = UInt8(limits.maxQoS) }
            if !limits.retainAvailable { ackProperties.retainAvailable = 0 }
            if !limits.wildcardSubscriptionAvailable { ackProperties.wildcardSubscriptionAvailable = 0 }
            if !limits.subscriptionIdentifiersAvailable { ackProperties.subscriptionIdentifierAvailable = 0 }
            if !limits.sharedSubscriptionAvailable { ackProperties.sharedSubscriptionAvailable = 0 }
            if let method = authenticationMethod {
                ackProperties.authenticationMethod = method
                if let data = authExchange?.successData { ackProperties.authenticationData = data }
            }
            authExchange = nil
        } else {
            // 3.x: a persistent session lives until the node's cap.
            expiry = connect.cleanStart ? 0 : UInt32(clamping: sessionSettings.maxSessionExpiry)
            sendQuota = sessionSettings.maxInflight
        }

        // Keep alive: 5.0 clients may be told a different value.
        var keepAlive = Int(connect.keepAlive)
        if version == .v5, limits.serverKeepAlive > 0, limits.serverKeepAlive != keepAlive {
            keepAlive = limits.serverKeepAlive
            ackProperties.serverKeepAlive = UInt16(clamping: keepAlive)
        }
        negotiatedKeepAlive = keepAlive
        startKeepAlive(seconds: keepAlive)

        // The session: claim the client id; a previous holder hands over (or ends).
        state = .connecting
        let session = Session(clientId: clientId, context: loopContext, broker: broker)
        session.expiryInterval = expiry
        session.username = username
        self.session = session
        let connAckProperties = ackProperties
        broker.claim(session, resume: !connect.cleanStart) { [self] state, fromAnotherNode in
            session.install(state, fromAnotherNode: fromAnotherNode)
            completeConnect(session: session, sessionPresent: state != nil, ackProperties: connAckProperties)
        }
    }

    /// Sends CONNACK and attaches the session, then runs what arrived in the meantime.
    private func completeConnect(session: Session, sessionPresent: Bool, ackProperties: Properties) {
        guard state == .connecting else {
            // The socket closed during the hand-over: the session stays, without a connection.
            session.attach(self)
            session.connectionClosed(self, will: takenOver ? nil : will, willDelay: willDelay)
            will = nil
            return
        }
        if session.isSuperseded {
            // A newer connection with this client id took the session over while this one was
            // still connecting: it is accepted and at once told it was taken over.
            sendConnAck(ConnAck(sessionPresent: sessionPresent, reasonCode: .success,
                                properties: version == .v5 ? ackProperties : []))
            state = .connected
            _ = takeOver()
            return
        }
        attachedToSession = true
        session.recordConnection(ConnectionInfo(
            username: username, peer: channelContext.remoteAddress.flatMap(Self.describe),
            protocolVersion: version, keepAlive: negotiatedKeepAlive, cleanStart: cleanStart,
            connectedAt: Int64(NIODeadline.wallClockNow)))
        sendConnAck(ConnAck(sessionPresent: sessionPresent, reasonCode: .success,
                            properties: version == .v5 ? ackProperties : []))
        state = .connected
        logger.debug("client connected", metadata: ["protocol": "\(version)", "session_present": "\(sessionPresent)"])
        session.attach(self)
        announceConnected(sessionPresent: sessionPresent)
        heldPackets = packetsWhileConnecting
        packetsWhileConnecting = []
        handleHeldPackets()
    }

    /// Answers CONNECT with a failure code and closes.
    func refuse(_ reasonCode: ReasonCode, _ why: String) {
        logger.info("refused connection: \(why)", metadata: ["reason_code": "\(reasonCode)"])
        var properties = Properties()
        if version == .v5, requestProblemInformation { properties.reasonString = why }
        will = nil
        sendConnAck(ConnAck(sessionPresent: false, reasonCode: reasonCode, properties: properties))
        close()
    }

    /// Checks the node's topic length and depth limits.
    func checkTopicLimits(_ topic: String) -> Bool {
        let limits = loopContext.settings.mqtt
        return topic.utf8.count <= limits.maxTopicLength && MQTTTopic.levelCount(topic) <= limits.maxTopicLevels
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
