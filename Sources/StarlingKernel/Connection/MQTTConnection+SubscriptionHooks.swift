import MQTTCore

/// The `subscribe` and `unsubscribe` hooks: each filter of a SUBSCRIBE or UNSUBSCRIBE passes the
/// chain before anything else looks at it (validation, `authorize_subscribe`, removal).
extension MQTTConnection {
    enum HookedFilter {
        /// Go on with this filter (the client's, or a hook's rewrite; validated by the caller).
        case use(String)
        /// A hook refused it (0x87) or rewrote it into something that is not UTF-8 (0x8F).
        case refuse(ReasonCode)
    }

    /// Runs the hooks of `list` (`\.subscribe` or `\.unsubscribe`) over one filter. With none
    /// registered: a field load and an empty check.
    @inline(__always)
    func hookedFilter(_ list: KeyPath<HookChains, HookList<SubscriptionHook>>, _ filter: String, qos: QoS)
        -> HookedFilter {
        let hooks = loopContext.withHooks { $0[keyPath: list] }
        if hooks.isEmpty { return .use(filter) }
        return runFilterHooks(hooks, filter, qos: qos)
    }

    private func runFilterHooks(_ hooks: HookList<SubscriptionHook>, _ filter: String, qos: QoS) -> HookedFilter {
        var request = SubscriptionRequest(clientId: clientId, username: username, filter: filter, qos: qos)
        // A rewrite the broker finds invalid stops the chain there, like a STOP.
        let stoppedAt = hooks.run { hook -> HookResult in
            hook(&request) == .ok && request.invalidRewrite == nil ? .ok : .stop
        }?.owner
        if let why = request.invalidRewrite {
            logger.warning("refused a filter a plugin rewrote: \(why)", metadata: ["plugin": "\(stoppedAt?.name ?? "?")",
                                                                                  "filter": "\(filter)"])
            return .refuse(.topicFilterInvalid)
        }
        if let stoppedAt {
            logger.debug("filter refused by plugin \(stoppedAt.name)", metadata: ["filter": "\(filter)"])
            return .refuse(.notAuthorized)
        }
        return .use(request.filter)
    }
}
