import MQTTCore
import NIOCore

extension MQTTConnection {
    /// SUBSCRIBE: one reason code per filter, then the retained messages each new subscription asks for.
    func handleSubscribe(_ subscribe: Subscribe, session: Session) {
        let limits = loopContext.settings.mqtt
        let identifier = version == .v5 ? subscribe.properties.subscriptionIdentifiers.first : nil
        if identifier != nil, !limits.subscriptionIdentifiersAvailable {
            return disconnect(.subscriptionIdentifiersNotSupported, reason: "subscription identifiers are not supported")
        }
        var reasonCodes: [ReasonCode] = []
        var retainedToSend: [(String, SubscriptionOptions)] = []
        reasonCodes.reserveCapacity(subscribe.subscriptions.count)
        for request in subscribe.subscriptions {
            let filter: String
            switch hookedFilter(\.subscribe, request.filter, qos: request.qos) {
            case .use(let hooked): filter = hooked
            case .refuse(let code): reasonCodes.append(code); continue
            }
            let shared = MQTTTopic.parseShared(filter)
            guard MQTTTopic.isValidFilter(filter), checkTopicLimits(shared?.filter ?? filter) else {
                reasonCodes.append(.topicFilterInvalid)
                continue
            }
            if shared != nil {
                guard limits.sharedSubscriptionAvailable else {
                    reasonCodes.append(.sharedSubscriptionsNotSupported)
                    continue
                }
                if request.noLocal {
                    return disconnect(.protocolError, reason: "no local on a shared subscription")
                }
            }
            let plain = shared?.filter ?? filter
            if !limits.wildcardSubscriptionAvailable, plain.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
                reasonCodes.append(.wildcardSubscriptionsNotSupported)
                continue
            }
            let (authorized, why) = authorizeSubscription(filter, qos: QoS(rawValue: min(request.qos.rawValue, UInt8(limits.maxQoS)))!)
            guard let granted = authorized else {
                logger.debug("refused subscription: \(why ?? "")", metadata: ["filter": "\(filter)"])
                reasonCodes.append(.notAuthorized)
                continue
            }
            let options = SubscriptionOptions(qos: granted, noLocal: request.noLocal,
                                              retainAsPublished: request.retainAsPublished,
                                              retainHandling: request.retainHandling, identifier: identifier)
            let isNew = session.addSubscription(filter, options: options)
            reasonCodes.append(.granted(granted))
            if shared == nil, request.retainHandling == .sendOnSubscribe || (request.retainHandling == .sendOnNewSubscribe && isNew) {
                retainedToSend.append((filter, options))
            }
        }
        sendAck(.suback(SubAck(packetIdentifier: subscribe.packetIdentifier, reasonCodes: reasonCodes)))
        let now = NIODeadline.now()
        for (filter, options) in retainedToSend {
            for message in broker.retained.matching(filter, now: now) {
                session.deliverRetained(message, options: options)
            }
        }
    }

    /// UNSUBSCRIBE: 5.0 tells, per filter, whether a subscription existed.
    func handleUnsubscribe(_ unsubscribe: Unsubscribe, session: Session) {
        let reasonCodes = unsubscribe.filters.map { original -> ReasonCode in
            switch hookedFilter(\.unsubscribe, original, qos: .atMostOnce) {
            case .use(let filter): return session.removeSubscription(filter) ? .success : .noSubscriptionExisted
            case .refuse(let code): return code
            }
        }
        sendAck(.unsuback(UnsubAck(packetIdentifier: unsubscribe.packetIdentifier, reasonCodes: reasonCodes)))
    }
}
