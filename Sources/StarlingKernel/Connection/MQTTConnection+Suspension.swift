import MQTTCore
import NIOCore

/// A hook answered `pending`: the connection stops handling this client's packets (they wait,
/// in arrival order, as bytes in `cumulation` and decoded packets in `heldPackets`; reading from
/// the socket pauses) until the answer comes, on this loop, or `pendingTimeout` denies. Other
/// clients are not affected. The answer resumes the step that was waiting; IGNORE resumes the
/// chain at the next hook.
extension MQTTConnection {
    /// The step a pending answer resumes, with the chain as it stood when the hook was called.
    enum SuspendedStep {
        case clientConnect(Connect, HookList<ClientConnectHook>)
        case authenticate(Connect, HookList<AuthenticateHook>)
        case will(Connect, Publish, HookList<AuthorizePublishHook>)
        case enhancedAuth(EnhancedAuthStep, ByteBuffer?, HookList<EnhancedAuthHook>)
        case publish(Publish, HookList<AuthorizePublishHook>)
        case subscribe(SubscribeProgress, HookList<AuthorizeSubscribeHook>)
    }

    /// A class, so that a connection pays one pointer for it while nothing is pending.
    final class Suspension {
        let ticket: PendingTicket
        let step: SuspendedStep
        /// The place of the hook that answered pending in the step's chain.
        let index: Int
        let plugin: String
        let hook: String
        let timeout: Scheduled<Void>

        init(ticket: PendingTicket, step: SuspendedStep, index: Int, plugin: String, hook: String, timeout: Scheduled<Void>) {
            self.ticket = ticket
            self.step = step
            self.index = index
            self.plugin = plugin
            self.hook = hook
            self.timeout = timeout
        }
    }

    /// Ends a ticketed hook call: when the chain answered pending, suspends the connection on
    /// `step` and returns true.
    @inline(__always)
    func endTicketedCall<Answer>(_ ticket: PendingTicket, _ outcome: ChainOutcome<Answer>?,
                                 _ step: @autoclosure () -> SuspendedStep) -> Bool {
        defer { loopContext.endTicketedCall() }
        guard case .pending(let owner, let index) = outcome else { return false }
        suspend(ticket, owner: owner.takeUnretainedValue(), index: index, hook: ticket.hook?.name ?? "?", step: step())
        return true
    }

    private func suspend(_ ticket: PendingTicket, owner: HookOwner, index: Int, hook: String, step: SuspendedStep) {
        let early = broker.hooks.tickets.open(ticket.value, connection: self, owner: owner, hook: hook)
        let timeout = loopContext.loop.scheduleTask(in: .seconds(Int64(loopContext.settings.pendingTimeout))) { [self] in
            pendingTimedOut(ticket)
        }
        suspension = Suspension(ticket: ticket, step: step, index: index, plugin: owner.name, hook: hook, timeout: timeout)
        channelContext.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        if let early {
            // Answered from inside the call: applied as a task, like any other answer.
            loopContext.loop.execute { [self] in resume(ticket.value, early) }
        }
    }

    private func pendingTimedOut(_ ticket: PendingTicket) {
        guard suspension?.ticket == ticket, let (plugin, hook) = broker.hooks.tickets.close(ticket.value) else { return }
        loopContext.stats.add(.pendingTimeouts)
        logger.warning("plugin \(plugin) did not answer its \(hook) hook within \(loopContext.settings.pendingTimeout) s (plugin_loader.pending_timeout): denied")
        resume(ticket.value, HookCompletion(.deny(.notAuthorized)), timedOut: true)
    }

    /// The answer for `ticket` (on this loop): resumes the waiting step, then the held packets.
    func resume(_ ticket: UInt64, _ completion: HookCompletion, timedOut: Bool = false) {
        assertOnLoop()
        guard isOpen, let suspension, suspension.ticket.value == ticket else { return }
        self.suspension = nil
        suspension.timeout.cancel()
        continueAfter(suspension, completion, timedOut: timedOut)
        if self.suspension == nil, isOpen { releaseHeld() }
    }

    /// The client went while an answer was pending: the ticket closes, a late answer is dropped.
    func cancel(_ suspension: Suspension) {
        assertOnLoop()
        suspension.timeout.cancel()
        broker.hooks.tickets.close(suspension.ticket.value)
    }

    /// Handles what waited behind the answer, in order, until done or suspended again.
    private func releaseHeld() {
        lastActivity = .now()
        channelContext.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        handleHeldPackets()
        if suspension == nil, isOpen, var buffered = cumulation {
            cumulation = nil
            decodeAll(&buffered)
        }
    }

    /// Runs the decoded packets held back (arrived during the session's claim, then stopped by an answer).
    func handleHeldPackets() {
        guard case .connected(let client) = phase, !client.held.isEmpty else { return }
        var index = 0
        while index < client.held.count, suspension == nil, isConnected {
            let packet = client.held[index]
            index += 1
            handleConnected(packet, client)
        }
        client.held.removeFirst(index)
    }

    /// "refused by plugin NAME" for a pending answer's denial.
    private func refusedBy(_ suspension: Suspension, timedOut: Bool) -> String {
        timedOut ? "plugin \(suspension.plugin) did not answer in time (\(suspension.hook))"
            : "refused by plugin \(suspension.plugin)"
    }

    private func continueAfter(_ suspension: Suspension, _ completion: HookCompletion, timedOut: Bool) {
        let next = suspension.index + 1
        let decision = completion.decision
        let why = refusedBy(suspension, timedOut: timedOut)
        switch suspension.step {
        case .clientConnect(let connect, let list):
            switch decision {
            case .deny(let code): refuse(code, why)
            case .allow: authenticateConnect(connect)
            case .ignore, .pending: runClientConnectHooks(connect, list, from: next)
            }
        case .authenticate(let connect, let list):
            switch decision {
            case .deny(let code): authenticated(connect, .refused(code, why))
            case .allow: authenticated(connect, .accepted(.success))
            case .ignore, .pending: runAuthenticateHooks(connect, list, from: next)
            }
        case .will(let connect, let will, let list):
            switch decision {
            case .deny: refuse(.notAuthorized, "will not authorized: \(why)")
            case .allow: willAuthorized(connect)
            case .ignore, .pending: checkWill(connect, will, list, from: next)
            }
        case .enhancedAuth(let step, let data, let list):
            resumeEnhancedAuth(step, data: data, list, index: suspension.index, completion, why: why)
        case .publish(let publish, let list):
            guard case .connected(let client) = phase else { return }
            let session = client.session
            switch decision {
            case .deny: publishAuthorized(publish, refusal: counted(.publish, "not authorized: \(why)"), session: session)
            case .allow: publishAuthorized(publish, refusal: counted(.publish, nil), session: session)
            case .ignore, .pending: authorizePublish(publish, list, from: next, session: session)
            }
        case .subscribe(var progress, let list):
            switch decision {
            case .deny:
                subscriptionDecided(&progress, granted: nil, why: counted(.subscribe, why))
            case .allow:
                progress.lower(to: completion.qos)
                _ = counted(.subscribe, nil)
                subscriptionDecided(&progress, granted: progress.qos, why: nil)
            case .ignore, .pending:
                progress.lower(to: completion.qos)
                guard authorizeSubscription(&progress, list, from: next) else { return }
            }
            continueSubscribe(progress)
        }
    }
}
