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

/// The session's claim: the client id is claimed in this node's registry (and, in a cluster,
/// from its owner node); a previous session, here or on another node, hands its state over.
/// Ends in `completeConnect` with the session, whether it was present, and CONNACK's properties.
extension MQTTConnection {
    func claimSession(_ request: SessionClaimRequest) {
        let session = Session(clientId: clientId, context: loopContext, broker: broker)
        session.expiryInterval = request.expiry
        session.username = username
        move(to: .claimingSession(ClaimingClient(session: session, slot: request.slot, will: request.will)))
        let resume = request.resume
        let connAckProperties = request.ackProperties
        let previous = broker.registry.claim(session)
        guard let cluster = loopContext.cluster, resume else {
            if let cluster = loopContext.cluster {
                // Clean start needs nothing from another node: the CONNACK does not wait for the
                // claim, and a session elsewhere is discarded when the owner names it.
                let clientId = clientId
                cluster.claimClient(clientId) { holder in
                    guard let holder, holder != cluster.name else { return }
                    cluster.takeOverClient(clientId, from: holder, resume: false) { _ in }
                }
            }
            return takeOverLocally(previous, for: session, resume: resume) { [self] state in
                install(state, in: session, fromAnotherNode: false, ackProperties: connAckProperties)
            }
        }
        // In a cluster the id's owner node says who held it; a session on another node moves here.
        let bound = NIOLoopBound(self, eventLoop: loopContext.loop)
        cluster.claimClient(clientId) { holder in
            bound.eventLoop.execute {
                let connection = bound.value
                guard let holder, holder != cluster.name else {
                    return connection.takeOverLocally(previous, for: session, resume: resume) { state in
                        connection.install(state, in: session, fromAnotherNode: false, ackProperties: connAckProperties)
                    }
                }
                cluster.takeOverClient(connection.clientId, from: holder, resume: resume) { bytes in
                    bound.eventLoop.execute {
                        let connection = bound.value
                        let remote = connection.decodeMovedSession(bytes, from: holder)
                        // A local session that raced this connect takes precedence: it claimed later.
                        connection.takeOverLocally(previous, for: session, resume: resume) { local in
                            connection.install(local ?? remote, in: session, fromAnotherNode: local == nil && remote != nil,
                                               ackProperties: connAckProperties)
                        }
                    }
                }
            }
        }
    }

    /// Installs the session's state (nil: a new session) and answers CONNACK.
    private func install(_ state: SessionState?, in session: Session, fromAnotherNode: Bool, ackProperties: Properties) {
        session.install(state, fromAnotherNode: fromAnotherNode)
        completeConnect(session: session, sessionPresent: state != nil, ackProperties: ackProperties)
    }

    /// Takes the state of `previous`, this node's earlier session for the client id (nil: none),
    /// and runs `completion` on this connection's loop with it.
    private func takeOverLocally(_ previous: Session?, for session: Session, resume: Bool,
                                 completion: @escaping (SessionState?) -> Void) {
        guard let previous else { return completion(nil) }
        let here = NIOLoopBound(completion, eventLoop: loopContext.loop)
        previous.loop.execute {
            previous.handOver(to: .local(session), resume: resume) { state in
                here.eventLoop.execute { here.value(state) }
            }
        }
    }

    /// The session state another node handed over, or nil (none, or unreadable: logged).
    private func decodeMovedSession(_ bytes: ByteBuffer?, from node: String) -> SessionState? {
        guard let bytes else { return nil }
        do {
            let state = try SessionTransfer.decode(bytes, now: .now())
            logger.debug("session moved here from another node", metadata: ["from": "\(node)",
                                                                            "queued": "\(state.queue.count)",
                                                                            "inflight": "\(state.inflight.count)"])
            return state
        } catch {
            logger.error("cannot read the session another node handed over; starting a new one",
                         metadata: ["from": "\(node)", "error": "\(error)"])
            return nil
        }
    }
}
