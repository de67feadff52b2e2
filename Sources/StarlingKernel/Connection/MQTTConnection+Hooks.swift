import MQTTCore
import NIOCore

/// Where a connection consults the hook chain: CONNECT, PUBLISH, SUBSCRIBE, and the connected and
/// disconnected notifications. With no hook registered each check costs a field load and an empty
/// check on the loop's own copy of the chain.
extension MQTTConnection {
    /// How a CONNECT was decided.
    enum AuthenticationVerdict {
        /// Accepted: `.success` when a plugin allowed it, `.anonymous` when nothing checked credentials.
        case accepted(AuthenticationResult)
        case refused(ReasonCode, String)
    }

    /// Decides a CONNECT.
    ///
    /// Without authentication hooks `allowAnonymous` decides for everyone (no credentials can be
    /// checked). With them the first hook that allows or denies decides; when all pass, a client
    /// without credentials follows `allowAnonymous` and one with credentials `authentication.no_match`.
    func authenticate(_ connect: Connect) -> AuthenticationVerdict {
        let hooks = loopContext.hooks.authenticate
        let allowAnonymous = loopContext.settings.allowAnonymous ?? false
        if hooks.isEmpty {
            return allowAnonymous ? .accepted(.anonymous)
                : .refused(.notAuthorized, "anonymous access is disabled and no authentication is configured")
        }
        let request = AuthenticationRequest(clientId: clientId, username: connect.username, password: connect.password,
                                            peer: peerDescription, protocolVersion: version)
        let (decision, owner) = hooks.decide { $0(request) }
        switch decision {
        case .allow:
            return .accepted(.success)
        case .deny(let code):
            return .refused(code, "refused by plugin \(owner?.name ?? "?")")
        case .ignore:
            if connect.username == nil && connect.password == nil {
                return allowAnonymous ? .accepted(.anonymous)
                    : .refused(.notAuthorized, "no plugin accepted the client and anonymous access is disabled")
            }
            switch loopContext.settings.authentication.noMatch {
            case .allow: return .accepted(.anonymous)
            case .deny: return .refused(.badUserNameOrPassword, "no plugin accepted the credentials (authentication.no_match = deny)")
            }
        }
    }

    /// Whether `publish` may be routed: nil when it may, else why not. Checks that plugins or
    /// `authorization.no_match = deny` made are counted.
    @inline(__always)
    func checkPublishAuthorization(_ publish: Publish) -> String? {
        let hooks = loopContext.hooks.authorizePublish
        if hooks.isEmpty, loopContext.settings.authorization.noMatch == .allow { return nil }
        let request = PublishAuthorizationRequest(clientId: clientId, username: username, topic: publish.topic,
                                                  payload: publish.payload, qos: publish.qos, retain: publish.retain)
        return counted(.publish, refusal(hooks.decide { $0(request) }))
    }

    /// The QoS to grant for `filter`, or nil (with why) when a hook or `authorization.no_match` denies it.
    func authorizeSubscription(_ filter: String, qos: QoS) -> (qos: QoS?, why: String?) {
        let hooks = loopContext.hooks.authorizeSubscribe
        if hooks.isEmpty, loopContext.settings.authorization.noMatch == .allow { return (qos, nil) }
        var request = SubscribeAuthorizationRequest(clientId: clientId, username: username, filter: filter, qos: qos)
        let result = hooks.decide { hook in
            let decision = hook(&request)
            if request.qos > qos { request.qos = qos }  // hooks may only lower it
            return decision
        }
        if let why = counted(.subscribe, refusal(result)) { return (nil, why) }
        return (request.qos, nil)
    }

    /// Counts an authorization check's outcome (nil: allowed) and passes it on.
    private func counted(_ action: AuthorizationAction, _ refusal: String?) -> String? {
        loopContext.stats.add(.authorized(action, refusal == nil ? .allow : .deny))
        return refusal
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

    /// Tells `client_connected` hooks (the connection is being announced).
    func notifyConnectedHooks(sessionPresent: Bool) {
        let hooks = loopContext.hooks.clientConnected
        guard !hooks.isEmpty else { return }
        let notice = ClientConnectedNotice(clientId: clientId, username: username, peer: peerDescription,
                                         protocolVersion: version, keepAlive: negotiatedKeepAlive,
                                         cleanStart: cleanStart, sessionPresent: sessionPresent)
        hooks.notifyAll { $0(notice) }
    }

    /// Tells `client_disconnected` hooks (an announced connection has ended).
    func notifyDisconnectedHooks() {
        let hooks = loopContext.hooks.clientDisconnected
        guard !hooks.isEmpty else { return }
        let cause = closeCause ?? (.connectionLost, .success)
        let notice = ClientDisconnectedNotice(clientId: clientId, username: username, initiator: cause.initiator,
                                            reasonCode: cause.code)
        hooks.notifyAll { $0(notice) }
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
