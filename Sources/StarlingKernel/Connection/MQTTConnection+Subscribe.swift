import MQTTCore
import NIOCore

/// A SUBSCRIBE being answered filter by filter; kept across a pending authorization answer.
struct SubscribeProgress {
    let subscribe: Subscribe
    /// The session the subscriptions go to.
    let session: Session
    let identifier: UInt32?
    /// The filter being decided.
    var next = 0
    var reasonCodes: [ReasonCode] = []
    var retainedToSend: [(String, SubscriptionOptions)] = []
    /// The filter being decided, as the subscribe hooks left it.
    var filter = ""
    /// The QoS to grant the filter being decided (capped request, lowered by hooks).
    var qos = QoS.atMostOnce

    /// Lowers the QoS to grant to `qos` when that is lower.
    mutating func lower(to qos: QoS?) {
        if let qos, qos < self.qos { self.qos = qos }
    }
}

extension MQTTConnection {
    /// SUBSCRIBE: one reason code per filter, then the retained messages each new subscription asks for.
    func handleSubscribe(_ subscribe: Subscribe, session: Session) {
        let identifier = version == .v5 ? subscribe.properties.subscriptionIdentifiers.first : nil
        if identifier != nil, !loopContext.settings.mqtt.subscriptionIdentifiersAvailable {
            return disconnect(.subscriptionIdentifiersNotSupported, reason: "subscription identifiers are not supported")
        }
        var progress = SubscribeProgress(subscribe: subscribe, session: session, identifier: identifier)
        progress.reasonCodes.reserveCapacity(subscribe.subscriptions.count)
        continueSubscribe(progress)
    }

    /// Decides the filters from `progress.next` on, then answers SUBACK - unless an authorization
    /// answer is pending (then `resume` calls this again).
    func continueSubscribe(_ progress: SubscribeProgress) {
        var progress = progress
        let limits = loopContext.settings.mqtt
        while progress.next < progress.subscribe.subscriptions.count {
            let request = progress.subscribe.subscriptions[progress.next]
            let filter: String
            switch hookedFilter(\.subscribe, request.filter, qos: request.qos) {
            case .use(let hooked): filter = hooked
            case .refuse(let code):
                progress.reasonCodes.append(code)
                progress.next += 1
                continue
            }
            progress.filter = filter
            let shared = MQTTTopic.parseShared(filter)
            guard MQTTTopic.isValidFilter(filter), checkTopicLimits(shared?.filter ?? filter) else {
                progress.reasonCodes.append(.topicFilterInvalid)
                progress.next += 1
                continue
            }
            if shared != nil {
                guard limits.sharedSubscriptionAvailable else {
                    progress.reasonCodes.append(.sharedSubscriptionsNotSupported)
                    progress.next += 1
                    continue
                }
                if request.noLocal {
                    return disconnect(.protocolError, reason: "no local on a shared subscription")
                }
            }
            let plain = shared?.filter ?? filter
            if !limits.wildcardSubscriptionAvailable, plain.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
                progress.reasonCodes.append(.wildcardSubscriptionsNotSupported)
                progress.next += 1
                continue
            }
            progress.qos = QoS(rawValue: min(request.qos.rawValue, UInt8(limits.maxQoS)))!
            let hooks = loopContext.withHooks { $0.authorizeSubscribe }
            if hooks.isEmpty {
                let why = loopContext.settings.authorization.noMatch == .allow
                    ? nil : counted(.subscribe, authorizationNoMatchRefusal)
                subscriptionDecided(&progress, granted: why == nil ? progress.qos : nil, why: why)
            } else if !authorizeSubscription(&progress, hooks, from: 0) {
                return  // suspended
            }
        }
        finishSubscribe(progress)
    }

    /// The filter at `progress.next` is decided: granted `granted`, or refused (nil) for `why`.
    func subscriptionDecided(_ progress: inout SubscribeProgress, granted: QoS?, why: String?) {
        let request = progress.subscribe.subscriptions[progress.next]
        progress.next += 1
        guard let granted else {
            logger.debug("refused subscription: \(why ?? "")", metadata: ["filter": "\(progress.filter)"])
            progress.reasonCodes.append(.notAuthorized)
            return
        }
        let options = SubscriptionOptions(qos: granted, noLocal: request.noLocal,
                                          retainAsPublished: request.retainAsPublished,
                                          retainHandling: request.retainHandling, identifier: progress.identifier)
        let isNew = progress.session.addSubscription(progress.filter, options: options)
        progress.reasonCodes.append(.granted(granted))
        if MQTTTopic.parseShared(progress.filter) == nil,
           request.retainHandling == .sendOnSubscribe || (request.retainHandling == .sendOnNewSubscribe && isNew) {
            progress.retainedToSend.append((progress.filter, options))
        }
    }

    private func finishSubscribe(_ progress: SubscribeProgress) {
        sendDurableAck(.suback(SubAck(packetIdentifier: progress.subscribe.packetIdentifier, reasonCodes: progress.reasonCodes)))
        let session = progress.session
        let now = NIODeadline.now()
        for (filter, options) in progress.retainedToSend {
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
        sendDurableAck(.unsuback(UnsubAck(packetIdentifier: unsubscribe.packetIdentifier, reasonCodes: reasonCodes)))
    }
}
