import MQTTCore
import NIOCore

/// An MQTT 5 enhanced-authentication exchange (5.0 section 4.12) in progress: a CONNECT's (kept
/// by `.authenticating`) or a connected client's re-authentication (kept by `.connected`).
final class AuthExchange {
    let method: String
    /// The hooks the next step goes to: the whole chain at first, then the one hook that
    /// answered CONTINUE.
    var hooks: HookList<EnhancedAuthHook>
    /// Set while the broker waits for the client's AUTH 0x18.
    var awaitingClient = false
    /// Authentication Data for the CONNACK of a successful exchange.
    var successData: ByteBuffer?
    /// Re-authentication: ends the connection when the client leaves AUTH 0x18 unanswered.
    var clientDeadline: Scheduled<Void>?

    init(method: String, hooks: HookList<EnhancedAuthHook>) {
        self.method = method
        self.hooks = hooks
    }
}

/// Enhanced authentication: CONNECT with an Authentication Method, AUTH 0x18 back and forth,
/// CONNACK; and re-authentication (AUTH 0x19) of a connected client, ending in AUTH 0x00 or
/// DISCONNECT. The enhanced_auth hooks decide; a method none of them takes is refused with 0x8C.
extension MQTTConnection {
    /// The exchange in progress: the CONNECT's while authenticating, a re-authentication's once connected.
    var authExchange: AuthExchange? {
        get {
            switch phase {
            case .authenticating(let attempt): attempt.exchange
            case .connected(let client): client.reauthentication
            default: nil
            }
        }
        set {
            switch phase {
            case .authenticating(let attempt): attempt.exchange = newValue
            case .connected(let client): client.reauthentication = newValue
            default: assert(newValue == nil, "an authentication exchange in phase \(phase.kind)")
            }
        }
    }

    /// The CONNECT an exchange decides; nil when the exchange re-authenticates a connected client.
    private var connectUnderAuthentication: Connect? {
        if case .authenticating(let attempt) = phase { return attempt.connect }
        return nil
    }

    func startEnhancedAuth(_ connect: Connect, method: String) {
        authenticationMethod = method
        authExchange = AuthExchange(method: method, hooks: loopContext.withHooks { $0.enhancedAuth })
        runEnhancedAuth(.connect, data: connect.properties.authenticationData, loopContext.withHooks { $0.enhancedAuth }, from: 0)
    }

    /// A packet before CONNACK while an exchange runs: only AUTH 0x18 (or DISCONNECT) may come.
    func handleAuthenticating(_ packet: MQTTPacket, _ attempt: ConnectAttempt) {
        switch packet {
        case .auth(let auth):
            guard let exchange = attempt.exchange, exchange.awaitingClient, auth.reasonCode == .continueAuthentication,
                  auth.properties.authenticationMethod == exchange.method else {
                loopContext.stats.add(.authenticated(.failure))
                return refuse(.protocolError, "unexpected AUTH during enhanced authentication")
            }
            exchange.awaitingClient = false
            runEnhancedAuth(.continue, data: auth.properties.authenticationData, exchange.hooks, from: 0)
        case .disconnect:
            close()
        default:
            refuse(.protocolError, "\(packet.type) before the end of enhanced authentication")
        }
    }

    /// AUTH from a connected client: 0x19 starts a re-authentication, 0x18 continues one.
    func handleReauthentication(_ auth: Auth) {
        guard let method = authenticationMethod else {
            return disconnect(.protocolError, reason: "AUTH from a client that connected without an authentication method")
        }
        guard auth.properties.authenticationMethod == method else {
            return disconnect(.protocolError, reason: "AUTH with another authentication method than at CONNECT")
        }
        let data = auth.properties.authenticationData
        switch auth.reasonCode {
        case .reAuthenticate where authExchange == nil:
            let hooks = loopContext.withHooks { $0.enhancedAuth }
            authExchange = AuthExchange(method: method, hooks: hooks)
            runEnhancedAuth(.reauthenticate, data: data, hooks, from: 0)
        case .continueAuthentication where authExchange?.awaitingClient == true:
            authExchange!.awaitingClient = false
            authExchange!.clientDeadline?.cancel()
            runEnhancedAuth(.continue, data: data, authExchange!.hooks, from: 0)
        default:
            disconnect(.protocolError, reason: "AUTH \(auth.reasonCode) out of turn")
        }
    }

    /// Asks `hooks` from `start` about one step; goes on with the answer, or suspends.
    private func runEnhancedAuth(_ step: EnhancedAuthStep, data: ByteBuffer?, _ hooks: HookList<EnhancedAuthHook>,
                                 from start: Int) {
        guard let method = authExchange?.method else { return }
        let ticket = loopContext.beginTicketedCall(.enhancedAuth)
        var request = EnhancedAuthRequest(clientId: clientId, username: username, peer: peerDescription, step: step,
                                          method: method, data: data, ticket: ticket)
        let outcome = hooks.run(from: start) { $0(&request) }
        if endTicketedCall(ticket, outcome, .enhancedAuth(step, data, hooks)) { return }
        switch outcome {
        case .decided(let answer, let owner, let index):
            enhancedAuthAnswered(step, answer, pinned: hooks.only(at: index), why: "refused by plugin \(owner.takeUnretainedValue().name)")
        case .pending, nil:
            enhancedAuthAnswered(step, .ignore, pinned: nil, why: "no plugin took authentication method \(method)")
        }
    }

    /// A pending answer came (`index`: the hook that gave it).
    func resumeEnhancedAuth(_ step: EnhancedAuthStep, data: ByteBuffer?, _ hooks: HookList<EnhancedAuthHook>,
                            index: Int, _ completion: HookCompletion, why: String) {
        let answer: EnhancedAuthDecision
        switch completion.decision {
        case .ignore, .pending:
            return runEnhancedAuth(step, data: data, hooks, from: index + 1)
        case .deny(let code): answer = .deny(code)
        case .allow:
            answer = completion.continueAuthentication
                ? .continue(completion.authenticationData) : .allow(completion.authenticationData)
        }
        enhancedAuthAnswered(step, answer, pinned: hooks.only(at: index), why: why)
    }

    private func enhancedAuthAnswered(_ step: EnhancedAuthStep, _ answer: EnhancedAuthDecision,
                                      pinned: HookList<EnhancedAuthHook>?, why: String) {
        guard let exchange = authExchange else { return }
        switch answer {
        case .allow(let data):
            guard let connect = connectUnderAuthentication else {
                authExchange = nil
                return sendAck(.auth(Auth(reasonCode: .success, properties: authProperties(exchange.method, data))))
            }
            exchange.successData = data
            authenticated(connect, .accepted(.success))
        case .continue(let data):
            exchange.hooks = pinned ?? exchange.hooks
            exchange.awaitingClient = true
            if connectUnderAuthentication == nil { awaitReauthentication(exchange) }
            sendAck(.auth(Auth(reasonCode: .continueAuthentication, properties: authProperties(exchange.method, data))))
        case .deny(let code):
            enhancedAuthFailed(exchange, code, why)
        case .ignore, .pending:
            // Nobody took the method at the first step; in the middle of an exchange IGNORE denies.
            enhancedAuthFailed(exchange, step == .continue ? .notAuthorized : .badAuthenticationMethod, why)
        }
    }

    /// A connected client keeps its connection (and its keep alive) while it re-authenticates, so
    /// nothing else bounds its answer to AUTH 0x18: plugin_loader.pending_timeout does, as it bounds
    /// a plugin's. 0x87 (not authorized) because the client has not proven who it is; 0x8C would
    /// say its method is wrong, which it is not.
    private func awaitReauthentication(_ exchange: AuthExchange) {
        let seconds = loopContext.settings.pendingTimeout
        exchange.clientDeadline = loopContext.loop.assumeIsolated().scheduleTask(in: .seconds(Int64(seconds))) { [weak self] in
            guard let self, self.authExchange === exchange, exchange.awaitingClient else { return }
            self.authExchange = nil
            self.disconnect(.notAuthorized,
                            reason: "re-authentication not answered within \(seconds) s (plugin_loader.pending_timeout)")
        }
    }

    private func enhancedAuthFailed(_ exchange: AuthExchange, _ code: ReasonCode, _ why: String) {
        authExchange = nil
        if let connect = connectUnderAuthentication {
            return authenticated(connect, .refused(code, why))
        }
        let reason: ReasonCode = code == .badAuthenticationMethod ? code : .notAuthorized
        disconnect(reason, reason: "re-authentication failed: \(why)")
    }

    private func authProperties(_ method: String, _ data: ByteBuffer?) -> Properties {
        var properties = Properties()
        properties.authenticationMethod = method
        if let data { properties.authenticationData = data }
        return properties
    }
}
