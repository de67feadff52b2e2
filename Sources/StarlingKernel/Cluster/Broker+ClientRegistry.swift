import NIOCore

/// The kernel's side of the cluster-wide client registry: sessions leave this node for another
/// one, and arrive from one.
extension Broker {
    /// Hands this node's session for `clientId` over to `node`, where the client connected again:
    /// the connection here (if any) is closed (5.0: DISCONNECT 0x8E); with `resume` the session's
    /// state is the result, otherwise the session ends here. Nil when this node holds no session
    /// for the id (it ended, or already moved). Any thread.
    public func surrenderSession(_ clientId: String, resume: Bool, to node: String) -> EventLoopFuture<ByteBuffer?> {
        guard let session = registry.session(for: clientId), !session.isLocal else {
            return contexts[0].loop.makeSucceededFuture(nil)
        }
        let promise = session.loop.makePromise(of: ByteBuffer?.self)
        session.loop.execute {
            session.handOver(to: .remote(node), resume: resume) { state in
                promise.succeed(state.map(SessionTransfer.encode))
            }
        }
        return promise.futureResult
    }

    /// The client ids of the sessions on this node (connected or not). Any thread.
    public func localClientIds() -> [String] {
        registry.all.compactMap { $0.isLocal ? nil : $0.clientId }
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
