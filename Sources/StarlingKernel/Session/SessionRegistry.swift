import NIOConcurrencyHelpers

/// Client id → the current session object. The lock makes every claim atomic, so of two
/// racing connects with one client id exactly one ends up owning the session and the other
/// takes it over in turn.
final class SessionRegistry: Sendable {
    private let sessions = NIOLockedValueBox<[String: Session]>([:])

    /// Makes `session` the current one for its client id; returns the one it replaces.
    func claim(_ session: Session) -> Session? {
        sessions.withLockedValue { $0.updateValue(session, forKey: session.clientId) }
    }

    /// Removes `clientId` if `session` is still its current session.
    func remove(_ clientId: String, ifCurrent session: Session) -> Bool {
        sessions.withLockedValue {
            guard $0[clientId] === session else { return false }
            $0[clientId] = nil
            return true
        }
    }

    func session(for clientId: String) -> Session? {
        sessions.withLockedValue { $0[clientId] }
    }

    var count: Int { sessions.withLockedValue { $0.count } }

    var all: [Session] { sessions.withLockedValue { Array($0.values) } }
}
