import MQTTCore
import NIOCore

/// What the session's claim needs from the CONNECT's earlier steps.
struct SessionClaimRequest {
    /// The negotiated session expiry interval.
    let expiry: UInt32
    /// The client asked to resume its session (clean start 0).
    let resume: Bool
    let slot: ConnectionSlot
    let will: LastWill?
    /// CONNACK's properties, sent once the session is in place.
    let ackProperties: Properties
}

/// The session's claim: a new session claims the client id (`Broker.claim`: this node's registry
/// and, in a cluster, the id's owner node); a previous session, here or on another node, hands
/// its state over. Ends in `completeConnect` with the session, whether it was present, and
/// CONNACK's properties.
extension MQTTConnection {
    func claimSession(_ request: SessionClaimRequest) {
        assertOnLoop()
        let session = Session(clientId: clientId, context: loopContext, broker: broker)
        session.expiryInterval = request.expiry
        session.username = username
        move(to: .claimingSession(ClaimingClient(session: session, slot: request.slot, will: request.will)))
        let ackProperties = request.ackProperties
        broker.claim(session, resume: request.resume) { [self] state, fromAnotherNode in
            session.install(state, fromAnotherNode: fromAnotherNode)
            completeConnect(session: session, sessionPresent: state != nil, ackProperties: ackProperties)
        }
    }
}
