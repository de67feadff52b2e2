import MQTTCore
import NIOCore

/// Where a connection stands in its life, each step with what only it has. The connection
/// changes it only through `MQTTConnection.move(to:)`, which checks `canMove(from:to:)`.
///
/// The payloads are classes: a step's data changes in place (a pending answer, packets that
/// arrive during the claim) without copying the enum, and a packet's dispatch costs one switch.
enum ConnectionPhase {
    /// The channel is not active yet: the connection is not registered with its loop.
    case idle
    /// Registered; no CONNECT yet (bounded by `MQTTConnection.connectTimeout`).
    case awaitingConnect
    /// CONNECT received: its hooks (client_connect, authentication, the will's authorization) or
    /// an enhanced-authentication exchange decide it.
    case authenticating(ConnectAttempt)
    /// CONNECT accepted and counted against the connection limits; the session is being claimed
    /// (a previous holder, here or on another node, hands it over) before CONNACK.
    case claimingSession(ClaimingClient)
    /// CONNACK sent, the session attached, the client announced (`$SYS`, client_connected).
    case connected(ConnectedClient)
    /// The connection has been closed; what it owes the session, the limits and the announcements
    /// waits for the channel to go (`channelInactive`).
    case closing(ConnectionEnding)
    /// The channel has gone and everything has been settled.
    case closed

    /// The case alone, for the transition table.
    enum Kind: CaseIterable {
        case idle, awaitingConnect, authenticating, claimingSession, connected, closing, closed
    }

    var kind: Kind {
        switch self {
        case .idle: .idle
        case .awaitingConnect: .awaitingConnect
        case .authenticating: .authenticating
        case .claimingSession: .claimingSession
        case .connected: .connected
        case .closing: .closing
        case .closed: .closed
        }
    }

    /// Whether a connection may go from `from` to `to`: forward along CONNECT's steps, from any
    /// open step to closing (the connection is closed) or closed (the channel went by itself),
    /// from closing to closed; never back, never twice into the same step.
    static func canMove(from: Kind, to: Kind) -> Bool {
        switch (from, to) {
        case (.idle, .awaitingConnect), (.awaitingConnect, .authenticating),
             (.authenticating, .claimingSession), (.claimingSession, .connected), (.closing, .closed):
            return true
        case (_, .closing), (_, .closed):
            return from != .closing && from != .closed
        default:
            return false
        }
    }
}

/// Proof that a connection holds a place against the node's and its listener's connection
/// limits: taken once the CONNECT has passed its hooks, given back when the channel goes. It
/// stores nothing (the limits are the connection's own, `broker.connections` and
/// `listenerLimit`), so carrying it in a phase costs no memory per connection.
struct ConnectionSlot {
    /// Gives the places back to the limits the slot was taken from.
    func release(node: ConnectionLimit, listener: ConnectionLimit) {
        node.release()
        listener.release()
    }
}

/// The will of a connection: published by its session if the connection ends without a normal
/// DISCONNECT, after `delay` seconds.
struct LastWill {
    let message: Message
    let delay: UInt32
}

/// `.authenticating`: the CONNECT being decided.
final class ConnectAttempt {
    /// The CONNECT, with the client certificate's identity put in where the settings ask for it.
    let connect: Connect
    /// The client id the CONNECT itself carried (empty: the client is told the id it got).
    let sentClientId: String
    /// The enhanced-authentication exchange, when the CONNECT named an Authentication Method.
    var exchange: AuthExchange?
    /// A hook's answer the next step waits for.
    var pending: MQTTConnection.Suspension?
    /// Taken by the limits step; held while the will is checked, then by the claim.
    var slot: ConnectionSlot?

    init(_ connect: Connect, sentClientId: String? = nil) {
        self.connect = connect
        self.sentClientId = sentClientId ?? connect.clientIdentifier
    }
}

/// `.claimingSession`: the new session and what waits for it.
final class ClaimingClient {
    let session: Session
    let slot: ConnectionSlot
    var will: LastWill?
    /// Packets that arrived during the claim, handled once connected.
    var arrived: [MQTTPacket] = []

    init(session: Session, slot: ConnectionSlot, will: LastWill?) {
        self.session = session
        self.slot = slot
        self.will = will
    }
}

/// `.connected`: a client with its session attached.
final class ConnectedClient {
    let session: Session
    let slot: ConnectionSlot
    var will: LastWill?
    /// Packets from the claim not handled yet (a pending answer stopped them), in arrival order.
    var held: [MQTTPacket]
    /// A hook's answer the client's packets wait for (PUBLISH, SUBSCRIBE or re-authentication).
    var pending: MQTTConnection.Suspension?
    /// A re-authentication (AUTH 0x19) in progress.
    var reauthentication: AuthExchange?

    init(_ claim: ClaimingClient) {
        session = claim.session
        slot = claim.slot
        will = claim.will
        held = claim.arrived
    }
}

/// Who ended a connection and the DISCONNECT reason code, for `client_disconnected` hooks.
typealias CloseCause = (initiator: DisconnectInitiator, code: ReasonCode)

/// `.closing`: why the connection ended and what it still owes when its channel goes.
final class ConnectionEnding {
    /// Why, as the path that closed it said (nil: the socket closed or failed by itself).
    let reason: DisconnectReason?
    /// Who ended it and with which code (nil: the socket closed).
    let cause: CloseCause?
    let slot: ConnectionSlot?
    /// The session to tell of the end, with the will: the one attached, unless it was taken over.
    var session: Session?
    var will: LastWill?
    /// Counted and announced as connected: its disconnect is announced.
    let announced: Bool
    /// A hook's answer that was pending: its ticket closes with the channel.
    var pending: MQTTConnection.Suspension?

    init(_ phase: ConnectionPhase, reason: DisconnectReason?, cause: CloseCause?, takenOver: Bool) {
        self.reason = reason
        self.cause = cause
        switch phase {
        case .idle, .awaitingConnect, .closing, .closed:
            slot = nil
            announced = false
        case .authenticating(let attempt):
            slot = attempt.slot
            pending = attempt.pending
            announced = false
        case .claimingSession(let claim):
            slot = claim.slot
            will = takenOver ? nil : claim.will
            announced = false
        case .connected(let client):
            slot = client.slot
            session = takenOver ? nil : client.session
            will = takenOver ? nil : client.will
            pending = client.pending
            announced = true
        }
    }
}
