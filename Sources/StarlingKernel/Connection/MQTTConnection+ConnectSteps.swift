import MQTTCore
import NIOCore

/// The hook steps of a CONNECT, in order: client_connect, then authentication (the authenticate
/// chain, or enhanced authentication when the CONNECT names a method), then the will's
/// authorization; `finishConnect` does the rest. Each step may suspend on a pending answer and is
/// resumed where it stood.
extension MQTTConnection {
    /// client_connect hooks from `start`: DENY refuses; ALLOW ends this chain; either goes on to
    /// authentication, as does a chain where every hook passes.
    func runClientConnectHooks(_ connect: Connect, _ hooks: HookList<ClientConnectHook>, from start: Int) {
        guard !hooks.isEmpty else { return authenticateConnect(connect) }
        let ticket = loopContext.beginTicketedCall(.clientConnect)
        var request = ClientConnectRequest(clientId: clientId, username: connect.username, peer: peerDescription,
                                           protocolVersion: version, keepAlive: Int(connect.keepAlive),
                                           cleanStart: connect.cleanStart, hasWill: connect.will != nil,
                                           authenticationMethod: connect.properties.authenticationMethod, ticket: ticket,
                                           transportSecurity: transportSecurity)
        let outcome = hooks.run(from: start) { $0(&request) }
        if endTicketedCall(ticket, outcome, .clientConnect(connect, hooks)) { return }
        if case .decided(.deny(let code), let owner, _) = outcome {
            return refuse(code, "refused by plugin \(owner.takeUnretainedValue().name) (client_connect)")
        }
        authenticateConnect(connect)
    }

    /// Authenticates: enhanced authentication when a 5.0 CONNECT names a method, else the
    /// authenticate chain.
    func authenticateConnect(_ connect: Connect) {
        if version == .v5, let method = connect.properties.authenticationMethod {
            return startEnhancedAuth(connect, method: method)
        }
        runAuthenticateHooks(connect, loopContext.withHooks { $0.authenticate }, from: 0)
    }

    /// Authentication decided: refuses, or goes on to the will.
    func authenticated(_ connect: Connect, _ verdict: AuthenticationVerdict) {
        switch verdict {
        case .refused(let code, let why):
            loopContext.stats.add(.authenticated(.failure))
            refuse(code, why)
        case .accepted(let result):
            loopContext.stats.add(.authenticated(result))
            checkWill(connect)
        }
    }

    /// The will is authorized as a PUBLISH of its client would be, at CONNECT: a will the client
    /// may not publish refuses the connection (0x87; 3.1.1: return code 5) rather than failing
    /// silently when the client is gone. An invalid will topic is left to `finishConnect`'s checks.
    func checkWill(_ connect: Connect) {
        guard let will = connect.will, publishNeedsAuthorization, MQTTTopic.isValidName(will.topic) else {
            return willAuthorized(connect)
        }
        let asPublish = Publish(topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain)
        checkWill(connect, asPublish, loopContext.withHooks { $0.authorizePublish }, from: 0)
    }

    func checkWill(_ connect: Connect, _ will: Publish, _ hooks: HookList<AuthorizePublishHook>, from start: Int) {
        let ticket = loopContext.beginTicketedCall(.authorizePublish)
        let request = PublishAuthorizationRequest(publisher: publisher, ticket: ticket)
        let outcome = hooks.run(from: start) { $0(request, will) }
        if endTicketedCall(ticket, outcome, .will(connect, will, hooks)) { return }
        if let why = counted(.publish, refusal(outcome)) {
            return refuse(.notAuthorized, "will not authorized: \(why)")
        }
        willAuthorized(connect)
    }

    func willAuthorized(_ connect: Connect) {
        finishConnect(connect)
    }
}
