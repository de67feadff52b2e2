import Atomics
import NIOCore

/// One loop's sessions that had to queue a message another node forwarded while they were online
/// (their window or socket was full). A cluster link delivering forwarded messages waits while any
/// loop has such a session (`Broker.hasForwardBacklog`), so the backlog stays in TCP and on the
/// sending node rather than overflowing the sessions' queues. Touched on its loop only, except
/// `isSet`, which other loops' links read.
final class ForwardBacklog: LoopConfined, @unchecked Sendable {
    let loop: EventLoop
    private var sessions: [Session] = []
    /// Set while `sessions` is not empty.
    let isSet = ManagedAtomic<Bool>(false)
    /// A few sessions are enough to tell the links to wait.
    private static let capacity = 64

    init(loop: EventLoop) { self.loop = loop }

    /// Notes `session` (of this loop) if a forwarded message left it with a queue while online.
    func note(_ session: Session) {
        assertOnLoop()
        guard session.connection != nil, session.queuedCount > 0, sessions.count < Self.capacity,
              !sessions.contains(where: { $0 === session }) else { return }
        sessions.append(session)
        isSet.store(true, ordering: .relaxed)
    }

    /// Forgets the sessions that drained or went offline.
    func prune() {
        assertOnLoop()
        guard !sessions.isEmpty else { return }
        sessions.removeAll { $0.connection == nil || $0.queuedCount == 0 }
        if sessions.isEmpty { isSet.store(false, ordering: .relaxed) }
    }
}
