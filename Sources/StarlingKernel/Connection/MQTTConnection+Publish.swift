import MQTTCore
import NIOCore

extension MQTTConnection {
    /// An application message from the client: resolves its topic alias, checks it against the
    /// node's limits, routes it and acknowledges it per its QoS.
    func handlePublish(_ publish: Publish, session: Session) {
        loopContext.stats.add(.messagesReceived)
        // Topic alias (5.0). Only a PUBLISH that names its topic by the alias alone is copied.
        if version == .v5, let alias = publish.properties.topicAlias {
            let limit = loopContext.settings.mqtt.maxTopicAlias
            guard alias > 0, Int(alias) <= limit else {
                return disconnect(.topicAliasInvalid, reason: "topic alias \(alias) outside 1...\(limit)")
            }
            if publish.topic.isEmpty {
                guard let topic = inboundAliases[alias] else {
                    return disconnect(.protocolError, reason: "topic alias \(alias) was never set")
                }
                var resolved = publish
                resolved.topic = topic
                return handleResolvedPublish(resolved, session: session)
            }
            inboundAliases[alias] = publish.topic
        }
        handleResolvedPublish(publish, session: session)
    }

    /// A PUBLISH with its topic name: checked, authorized, routed. Borrowed all the way to the
    /// router (and by the authorize_publish hooks): no copy of the packet.
    private func handleResolvedPublish(_ publish: Publish, session: Session) {
        let limits = loopContext.settings.mqtt
        guard publish.qos.rawValue <= limits.maxQoS else {
            return disconnect(.qosNotSupported, reason: "QoS \(publish.qos) above the maximum \(limits.maxQoS)")
        }
        guard !publish.retain || limits.retainAvailable else {
            return disconnect(.retainNotSupported, reason: "retain is not available")
        }
        guard checkTopicLimits(publish.topic) else {
            return refusePublish(publish, .topicNameInvalid, "topic exceeds the length or level limit")
        }
        if publish.topic.utf8.first == UInt8(ascii: "$"), publish.topic.utf8.starts(with: "$SYS".utf8) {  // one byte settles it for nearly every topic
            return refusePublish(publish, .notAuthorized, "clients may not publish to $SYS topics")
        }
        if version == .v5, publish.properties.payloadFormatIndicator == 1, !UTF8Validation.isValid(publish.payload) {
            return refusePublish(publish, .payloadFormatInvalid, "payload is not UTF-8 as its format indicator says")
        }

        // Authorization (hooks, else authorization.no_match); a QoS 2 retransmission was authorized the first time.
        if publishNeedsAuthorization,
           publish.qos != .exactlyOnce || !session.awaitingRelease.contains(publish.packetIdentifier!) {
            return loopContext.withHooks { hooks in
                if hooks.authorizePublish.isEmpty {
                    return refusePublish(publish, .notAuthorized, counted(.publish, authorizationNoMatchRefusal)!)
                }
                authorizePublish(publish, hooks.authorizePublish, from: 0, session: session)
            }
        }
        route(publish, session: session)
    }

    /// The authorization of `publish` is decided: routes it, or refuses it (`refusal` says why).
    func publishAuthorized(_ publish: Publish, refusal: String?, session: Session) {
        if let refusal { return refusePublish(publish, .notAuthorized, refusal) }
        route(publish, session: session)
    }

    /// Routes an authorized message and acknowledges it per its QoS.
    private func route(_ publish: Publish, session: Session) {
        switch publish.qos {
        case .atMostOnce:
            broker.publish(Message(publish: publish, topic: publish.topic, publisherId: clientId, publisherUsername: username, now: .now()),
                           from: loopContext)
        case .atLeastOnce:
            let packetId = publish.packetIdentifier!
            withDurablePublish(.atLeastOnce) {
                broker.publish(Message(publish: publish, topic: publish.topic, publisherId: clientId, publisherUsername: username, now: .now()),
                               from: loopContext) { matched in
                    sendDurableAck(.puback(PublishAck(packetIdentifier: packetId,
                                                      reasonCode: matched > 0 ? .success : .noMatchingSubscribers)))
                }
            }
        case .exactlyOnce:
            let packetId = publish.packetIdentifier!
            guard !session.awaitingRelease.contains(packetId) else {
                // A retransmission of a message already routed: acknowledge it again, route it once.
                return sendDurableAck(.pubrec(PublishAck(packetIdentifier: packetId)))
            }
            guard session.awaitingRelease.count < incomingQoS2Limit else {
                return disconnect(.receiveMaximumExceeded, reason: "more QoS 2 messages awaiting PUBREL than the receive maximum")
            }
            withDurablePublish(.exactlyOnce) {
                _ = session.beginIncomingExactlyOnce(packetId)
                broker.publish(Message(publish: publish, topic: publish.topic, publisherId: clientId, publisherUsername: username, now: .now()),
                               from: loopContext) { matched in
                    sendDurableAck(.pubrec(PublishAck(packetIdentifier: packetId,
                                                      reasonCode: matched > 0 ? .success : .noMatchingSubscribers)))
                }
            }
        }
    }

    /// QoS 2 messages a client may have awaiting PUBREL: the receive maximum announced in CONNACK.
    private var incomingQoS2Limit: Int {
        min(loopContext.settings.session.receiveMaximum, loopContext.settings.session.maxAwaitingRel)
    }

    /// Refuses one message. A 5.0 client hears why in a failure PUBACK/PUBREC (QoS 1/2) or a
    /// DISCONNECT (QoS 0). A 3.1.1 client cannot be told: a message it may not send is dropped
    /// and acknowledged (as Mosquitto does for a denied publish), an invalid one closes the connection.
    private func refusePublish(_ publish: Publish, _ reasonCode: ReasonCode, _ why: String) {
        logger.debug("refused PUBLISH: \(why)", metadata: ["topic": "\(publish.topic)"])
        if version != .v5, reasonCode != .notAuthorized {
            return disconnect(reasonCode, reason: why)
        }
        switch publish.qos {
        case .atMostOnce:
            if version == .v5, reasonCode != .notAuthorized { disconnect(reasonCode, reason: why) }
        case .atLeastOnce:
            sendAck(.puback(PublishAck(packetIdentifier: publish.packetIdentifier!,
                                       reasonCode: version == .v5 ? reasonCode : .success,
                                       properties: problem(why))))
        case .exactlyOnce:
            sendAck(.pubrec(PublishAck(packetIdentifier: publish.packetIdentifier!,
                                       reasonCode: version == .v5 ? reasonCode : .success,
                                       properties: problem(why))))
        }
    }

    /// A reason string for a 5.0 client that asked for problem information.
    func problem(_ why: String) -> Properties {
        guard version == .v5, requestProblemInformation else { return [] }
        return [.reasonString(why)]
    }
}
