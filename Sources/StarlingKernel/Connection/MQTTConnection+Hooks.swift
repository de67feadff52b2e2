import MQTTCore
import NIOCore

/// Where a connection consults the hook chain: CONNECT, PUBLISH, SUBSCRIBE, and the connected and
/// disconnected notifications. With no hook registered each check costs a field load and an empty
/// check on the loop's own copy of the chain.
extension MQTTConnection {
    /// Decides a CONNECT: nil when the client may connect, else the refusal and why.
    ///
    /// Without authentication hooks `allowAnonymous` decides for everyone (no credentials can be
    /// checked). With them the first hook that allows or denies decides; when all pass, a client
    /// without credentials follows `allowAnonymous` and one with credentials `authentication.no_match`.
    func authenticate(_ connect: Connect) -> (code: ReasonCode, why: String)? {
        let hooks = loopContext.hooks.authenticate
        let allowAnonymous = loopContext.settings.allowAnonymous ?? false
        if hooks.isEmpty {
            return allowAnonymous ? nil : (.notAuthorized, "anonymous access is disabled and no authentication is configured")
        }
        let request = AuthenticationRequest(clientId: clientId, username: connect.username, password: connect.password,
                                            peer: peerDescription, protocolVersion: version)
        let (decision, owner) = hooks.decide { $0(request) }
        switch decision {
        case .allow:
            return nil
        case .deny(let code):
            return (code, "refused by plugin \(owner?.name ?? "?")")
        case .ignore:
            if connect.username == nil && connect.password == nil {
                return allowAnonymous ? nil : (.notAuthorized, "no plugin accepted the client and anonymous access is disabled")
            }
            switch loopContext.settings.authentication.noMatch {
            case .allow: return nil
            case .deny: return (.badUserNameOrPassword, "no plugin accepted the credentials (authentication.no_match = deny)")
            }
        }
    }

    /// Whether `publish` may be routed: nil when it may, else why not.
    @inline(__always)
    func checkPublishAuthorization(_ publish: Publish) -> String? {
        let hooks = loopContext.hooks.authorizePublish
        if hooks.isEmpty { return authorizationNoMatchRefusal }
        let request = PublishAuthorizationRequest(clientId: clientId, username: username, topic: publish.topic,
                                                  payload: publish.payload, qos: publish.qos, retain: publish.retain)
        return refusal(hooks.decide { $0(request) })
    }

    /// The QoS to grant for `filter`, or nil (with why) when a hook or `authorization.no_match` denies it.
    func authorizeSubscription(_ filter: String, qos: QoS) -> (qos: QoS?, why: String?) {
        let hooks = loopContext.hooks.authorizeSubscribe
        if hooks.isEmpty {
            let why = authorizationNoMatchRefusal
            return (why == nil ? qos : nil, why)
        }
        var request = SubscribeAuthorizationRequest(clientId: clientId, username: username, filter: filter, qos: qos)
        let result = hooks.decide { hook in
            let decision = hook(&request)
            if request.qos > qos { request.qos = qos }  // hooks may only lower it
            return decision
        }
        if let why = refusal(result) { return (nil, why) }
        return (request.qos, nil)
    }

    private func refusal(_ result: (decision: HookDecision, owner: HookOwner?)) -> String? {
        switch result.decision {
        case .allow: return nil
        case .deny: return "not authorized by plugin \(result.owner?.name ?? "?")"
        case .ignore: return authorizationNoMatchRefusal
        }
    }

    private var authorizationNoMatchRefusal: String? {
        loopContext.settings.authorization.noMatch == .allow ? nil : "not authorized (authorization.no_match = deny)"
    }

    /// Tells `client_connected` hooks; from then on the end of the connection is told too.
    func announceConnected(sessionPresent: Bool) {
        announcedConnected = true
        let hooks = loopContext.hooks.clientConnected
        guard !hooks.isEmpty else { return }
        let event = ClientConnectedEvent(clientId: clientId, username: username, peer: peerDescription,
                                         protocolVersion: version, keepAlive: negotiatedKeepAlive,
                                         cleanStart: cleanStart, sessionPresent: sessionPresent)
        hooks.notifyAll { $0(event) }
    }

    /// Tells `client_disconnected` hooks, once, for a connection that was announced.
    func announceDisconnected() {
        guard announcedConnected else { return }
        announcedConnected = false
        let hooks = loopContext.hooks.clientDisconnected
        guard !hooks.isEmpty else { return }
        let cause = closeCause ?? (.connectionLost, .success)
        let event = ClientDisconnectedEvent(clientId: clientId, username: username, initiator: cause.initiator,
                                            reasonCode: cause.code)
        hooks.notifyAll { $0(event) }
    }

    /// Records who ended the connection (the first cause counts).
    func noteCloseCause(_ initiator: DisconnectInitiator, _ code: ReasonCode) {
        if closeCause == nil { closeCause = (initiator, code) }
    }

    /// The peer as `IP:PORT`, or empty.
    var peerDescription: String {
        channelContext.remoteAddress.flatMap(Self.describe) ?? ""
    }
}
