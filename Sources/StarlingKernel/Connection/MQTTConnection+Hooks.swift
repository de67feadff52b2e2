import MQTTCore
import NIOCore

/// Where a connection consults the hook chain: CONNECT, PUBLISH, SUBSCRIBE, and the connected and
/// disconnected notifications. With no hook registered each check costs a field load and an empty
/// check on the loop's own copy of the chain. Every deciding hook is called with a ticket and may
/// answer pending (see `MQTTConnection+Suspension`).
extension MQTTConnection {
    /// How a CONNECT was decided.
    enum AuthenticationVerdict {
        /// Accepted: `.success` when a plugin allowed it, `.anonymous` when nothing checked credentials.
        case accepted(AuthenticationResult)
        case refused(ReasonCode, String)
    }

    /// Runs the authenticate chain from `start` on the CONNECT, then goes on (or suspends).
    ///
    /// Without authentication hooks `allowAnonymous` decides for everyone (no credentials can be
    /// checked). With them the first hook that allows or denies decides; when all pass, a client
    /// without credentials follows `allowAnonymous` and one with credentials `authentication.no_match`.
    func runAuthenticateHooks(_ connect: Connect, _ hooks: HookList<AuthenticateHook>, from start: Int) {
        let allowAnonymous = loopContext.settings.allowAnonymous ?? false
        if hooks.isEmpty {
            return authenticated(connect, allowAnonymous ? .accepted(.anonymous)
                : .refused(.notAuthorized, "anonymous access is disabled and no authentication is configured"))
        }
        let ticket = loopContext.beginTicketedCall(.authenticate)
        let request = AuthenticationRequest(clientId: clientId, username: connect.username, password: connect.password,
                                            peer: peerDescription, protocolVersion: version, ticket: ticket,
                                            transportSecurity: transportSecurity)
        let outcome = hooks.run(from: start) { $0(request) }
        if endTicketedCall(ticket, outcome, .authenticate(connect, hooks)) { return }
        switch outcome {
        case .decided(.deny(let code), let owner, _):
            authenticated(connect, .refused(code, "refused by plugin \(owner.takeUnretainedValue().name)"))
        case .decided:
            authenticated(connect, .accepted(.success))
        case .pending, nil:
            if connect.username == nil && connect.password == nil {
                return authenticated(connect, allowAnonymous ? .accepted(.anonymous)
                    : .refused(.notAuthorized, "no plugin accepted the client and anonymous access is disabled"))
            }
            switch loopContext.settings.authentication.noMatch {
            case .allow: authenticated(connect, .accepted(.anonymous))
            case .deny: authenticated(connect, .refused(.badUserNameOrPassword, "no plugin accepted the credentials (authentication.no_match = deny)"))
            }
        }
    }

    /// Whether `publish` needs the authorize_publish chain or `authorization.no_match = deny`.
    @inline(__always)
    var publishNeedsAuthorization: Bool {
        loopContext.withHooks({ !$0.authorizePublish.isEmpty }) || loopContext.settings.authorization.noMatch == .deny
    }

    /// Checks `publish` with the authorize_publish chain from `start`, then routes or refuses it
    /// (`publishAuthorized`) - or suspends until a pending answer. The hooks borrow the PUBLISH:
    /// they see it without a copy.
    func authorizePublish(_ publish: Publish, _ hooks: borrowing HookList<AuthorizePublishHook>, from start: Int,
                          session: Session) {
        let ticket = loopContext.beginTicketedCall(.authorizePublish)
        let request = PublishAuthorizationRequest(publisher: publisher, ticket: ticket)
        let outcome = hooks.run(from: start) { $0(request, publish) }
        if endTicketedCall(ticket, outcome, .publish(publish, copy hooks)) { return }
        publishAuthorized(publish, refusal: counted(.publish, refusal(outcome)), session: session)
    }

    /// Runs the authorize_subscribe chain from `start` for the filter `progress` is at and records
    /// the result in `progress`. False when a hook's answer is pending (the connection is then
    /// suspended with `progress`).
    func authorizeSubscription(_ progress: inout SubscribeProgress, _ hooks: HookList<AuthorizeSubscribeHook>,
                               from start: Int) -> Bool {
        let ticket = loopContext.beginTicketedCall(.authorizeSubscribe)
        let cap = progress.qos
        var request = SubscribeAuthorizationRequest(clientId: clientId, username: username, filter: progress.filter,
                                                    qos: cap, ticket: ticket,
                                                    peer: publisher._withUnsafeGuaranteedRef { $0.peer },
                                                    transportSecurity: transportSecurity)
        let outcome = hooks.run(from: start) { hook in
            let decision = hook(&request)
            if request.qos > cap { request.qos = cap }  // hooks may only lower it
            return decision
        }
        progress.qos = request.qos
        if endTicketedCall(ticket, outcome, .subscribe(progress, hooks)) { return false }
        let why = counted(.subscribe, refusal(outcome))
        subscriptionDecided(&progress, granted: why == nil ? progress.qos : nil, why: why)
        return true
    }

    /// Counts an authorization check's outcome (nil: allowed) and passes it on.
    @inline(__always)
    func counted(_ action: AuthorizationAction, _ refusal: String?) -> String? {
        loopContext.stats.add(.authorized(action, refusal == nil ? .allow : .deny))
        return refusal
    }

    func refusal(_ outcome: ChainOutcome<HookDecision>?) -> String? {
        switch outcome {
        case .decided(.allow, _, _): return nil
        case .decided(_, let owner, _): return "not authorized by plugin \(owner.takeUnretainedValue().name)"
        case .pending, nil: return authorizationNoMatchRefusal
        }
    }

    var authorizationNoMatchRefusal: String? {
        loopContext.settings.authorization.noMatch == .allow ? nil : "not authorized (authorization.no_match = deny)"
    }

    /// Tells `client_connected` hooks (the connection is being announced).
    func notifyConnectedHooks(sessionPresent: Bool) {
        guard loopContext.withHooks({ !$0.clientConnected.isEmpty }) else { return }
        let notice = ClientConnectedNotice(clientId: clientId, username: username, peer: peerDescription,
                                         protocolVersion: version, keepAlive: negotiatedKeepAlive,
                                         cleanStart: cleanStart, sessionPresent: sessionPresent)
        loopContext.withHooks { $0.clientConnected.notifyAll { $0(notice) } }
    }

    /// Tells `client_disconnected` hooks (an announced connection has ended; `cause` nil: the socket closed).
    func notifyDisconnectedHooks(cause: CloseCause?) {
        guard loopContext.withHooks({ !$0.clientDisconnected.isEmpty }) else { return }
        let cause = cause ?? (.connectionLost, .success)
        let notice = ClientDisconnectedNotice(clientId: clientId, username: username, initiator: cause.initiator,
                                            reasonCode: cause.code)
        loopContext.withHooks { $0.clientDisconnected.notifyAll { $0(notice) } }
    }

    /// The peer as `IP:PORT`, or empty.
    var peerDescription: String {
        channelContext.remoteAddress.flatMap(Self.describe) ?? ""
    }
}
