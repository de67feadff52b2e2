import NIOCore

/// Who holds a client id's session: a new connection claims it (taking over the session that held
/// it, on this node or another), a session that ends releases it, and another node's claim makes
/// this node surrender it. The cluster takes part through `ClusterAttachment.claimSession` and
/// `sessionReleased` only.
extension Broker {
    /// Makes `session` (new, of a connecting client) the holder of its client id, here and in the
    /// cluster, and takes the state of the session that held the id before: `completion` runs on
    /// `session`'s loop with that state (nil: none, or `resume` is false) and whether it came from
    /// another node. A session still on this node takes precedence over one another node sends:
    /// it claimed later.
    func claim(_ session: Session, resume: Bool, completion: @escaping (SessionState?, _ fromAnotherNode: Bool) -> Void) {
        let previous = registry.claim(session)
        guard let cluster = session.context.cluster, resume else {
            // Clean start needs nothing from another node: the CONNACK does not wait for the
            // claim, and a session elsewhere is discarded when the owner names it.
            session.context.cluster?.claimSession(session.clientId, resume: false) { _ in }
            return takeOver(previous, for: session, resume: resume) { completion($0, false) }
        }
        let here = NIOLoopBound((completion: completion, broker: self), eventLoop: session.loop)
        cluster.claimSession(session.clientId, resume: true) { moved in
            here.eventLoop.execute {
                let (completion, broker) = here.value
                let remote = broker.decode(moved, for: session.clientId)
                broker.takeOver(previous, for: session, resume: resume) { local in
                    completion(local ?? remote, local == nil && remote != nil)
                }
            }
        }
    }

    /// Takes the state of `previous`, this node's earlier session for the client id (nil: none),
    /// and runs `completion` on `session`'s loop with it.
    private func takeOver(_ previous: Session?, for session: Session, resume: Bool,
                          completion: @escaping (SessionState?) -> Void) {
        guard let previous else { return completion(nil) }
        let here = NIOLoopBound(completion, eventLoop: session.loop)
        previous.loop.execute {
            previous.handOver(to: .local(session), resume: resume) { state in
                here.eventLoop.execute { here.value(state) }
            }
        }
    }

    /// The state another node handed over, or nil (none, or unreadable: logged).
    private func decode(_ moved: MovedSession?, for clientId: String) -> SessionState? {
        guard let moved else { return nil }
        var logger = self.logger
        logger[metadataKey: "client_id"] = "\(clientId)"
        do {
            let state = try SessionTransfer.decode(moved.state, now: .now())
            logger.debug("session moved here from another node", metadata: ["from": "\(moved.from)",
                                                                            "queued": "\(state.queue.count)",
                                                                            "inflight": "\(state.inflight.count)"])
            return state
        } catch {
            logger.error("cannot read the session another node handed over; starting a new one",
                         metadata: ["from": "\(moved.from)", "error": "\(error)"])
            return nil
        }
    }

    /// `session` no longer holds its client id (it ended, or moved to another node): the id leaves
    /// the registry and the cluster hears of it. False when a newer session holds the id already.
    @discardableResult
    func release(_ session: Session) -> Bool {
        guard registry.remove(session.clientId, ifCurrent: session) else { return false }
        session.context.cluster?.sessionReleased(session.clientId)
        return true
    }

    /// Hands this node's session for `clientId` over to another node, where the client connected
    /// again: the connection here (if any) is closed (5.0: DISCONNECT 0x8E); with `resume` the
    /// session's state is the result, otherwise the session ends here. Nil when this node holds no
    /// session for the id (it ended, or already moved). Any thread.
    public func surrenderSession(_ clientId: String, resume: Bool) -> EventLoopFuture<ByteBuffer?> {
        guard let session = registry.session(for: clientId), !session.isPluginSubscription else {
            return contexts[0].loop.makeSucceededFuture(nil)
        }
        let promise = session.loop.makePromise(of: ByteBuffer?.self)
        session.loop.execute {
            session.handOver(to: .anotherNode, resume: resume) { state in
                promise.succeed(state.map(SessionTransfer.encode))
            }
        }
        return promise.futureResult
    }

    /// The client ids of the sessions on this node (connected or not). Any thread.
    public func localClientIds() -> [String] {
        registry.all.compactMap { $0.isPluginSubscription ? nil : $0.clientId }
    }

    /// Whether this node holds a session for `clientId`. Any thread.
    public func holdsSession(_ clientId: String) -> Bool {
        registry.session(for: clientId) != nil
    }

    /// Runs `body` on `loop` once every other loop has run what was handed to it so far (at once
    /// with one loop): deliveries other loops matched before now have then reached their sessions.
    func afterOtherLoops(from loop: EventLoop, _ body: @escaping () -> Void) {
        guard contexts.count > 1 else { return body() }
        let others = contexts.filter { $0.loop !== loop }.map { $0.loop.submit {} }
        let bound = NIOLoopBound(body, eventLoop: loop)
        EventLoopFuture.andAllComplete(others, on: loop).whenComplete { _ in bound.value() }
    }
}
