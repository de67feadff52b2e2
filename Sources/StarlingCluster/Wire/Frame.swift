import NIOCore

/// One node-to-node message. On the wire: a 4-byte big-endian length (of what follows), the
/// protocol version (1 byte), the frame type (1 byte), then the type's body. Every frame carries
/// the version, so a node can refuse a peer that speaks one it does not know, by name.
enum Frame: Equatable {
    /// Dialer → acceptor, first: who I am (name, incarnation, cluster port) and a fresh nonce.
    case hello(Hello)
    /// Acceptor → dialer: who I am, my fresh nonce, and my proof over both nonces.
    case challenge(Hello, proof: [UInt8])
    /// Dialer → acceptor: my proof over both nonces.
    case proof([UInt8])
    /// Acceptor → dialer: the link is up; here are the members I know.
    case welcome(members: [PeerAddress])
    /// Either side, then the link closes: why the handshake (or the link) is refused.
    case refuse(RefuseReason, message: String)
    /// Either side, every heartbeat interval: I am alive.
    case heartbeat
    /// Either side: the members the sender knows (full mesh: connect to those you lack).
    case members([PeerAddress])
    /// Sender → peer: every route the sender owns; replaces what the peer held for it.
    case routeSnapshot(filters: [String])
    /// Sender → peer: route changes in order (true: add "filter -> sender", false: delete it).
    case routeOps([RouteOp])
    /// Sender → peer: messages to deliver to the peer's own subscribers, each an MQTT 5.0 PUBLISH.
    case forward(count: Int, publishes: ByteBuffer)
    /// Sender → peer: I am leaving the cluster on purpose; forget me (and my routes).
    case leave
    /// Sender → peer: messages for shared groups the peer holds members of, each one for one local
    /// member of its group only: the group's name and filter, then an MQTT 5.0 PUBLISH.
    case sharedForward(count: Int, publishes: ByteBuffer)
    /// Sender → peer: retained topics set or deleted, each with its stamp (last writer wins);
    /// streamed as they change, and the sender's whole retained set when a link comes up.
    case retained([RetainedEntry])
    /// Sender → the owner of a client id in the client registry: the sender now holds the id's
    /// session; answered with `clientHolder` for the same request number.
    case clientClaim(request: UInt64, clientId: String)
    /// Owner → claimant: the node that held the id before the claim ("" for none).
    case clientHolder(request: UInt64, holder: String)
    /// Sender → peer: every client id the sender holds a session for whose owner is the peer;
    /// replaces what the peer's registry names the sender for (entries of other nodes stay).
    case clientSnapshot([String])
    /// Sender → owner: the sender no longer holds a session for this id.
    case clientRelease(String)
    /// Sender → the node holding a client's session: hand it over to the sender (`resume`: with
    /// its state, otherwise discard it); answered with `sessionState` for the same request number.
    case takeOver(request: UInt64, clientId: String, resume: Bool)
    /// Answer to `takeOver`: the session's state (`SessionTransfer`'s bytes), or none.
    case sessionState(request: UInt64, state: ByteBuffer?)
    /// A frame type this release does not know (a later release's, in a rolling upgrade): read
    /// (its length is in the header) and skipped on an established link, refused before.
    case unknown(type: UInt8)

    /// The protocol version this build speaks.
    static let version: UInt8 = 1
    /// Frames larger than this are refused: room for one forwarded message of MQTT's largest size
    /// (a forward batch is otherwise cut at 64 KB).
    static let maximumLength = 268_435_455 + (1 << 20)
    /// Frames before the handshake has succeeded are small: an unauthenticated peer cannot make
    /// this node buffer more.
    static let maximumHandshakeLength = 64 << 10

    var typeCode: UInt8 {
        switch self {
        case .hello: 1
        case .challenge: 2
        case .proof: 3
        case .welcome: 4
        case .refuse: 5
        case .heartbeat: 6
        case .members: 7
        case .routeSnapshot: 8
        case .routeOps: 9
        case .forward: 10
        case .leave: 11
        case .retained: 12
        case .sharedForward: 13
        case .clientClaim: 14
        case .clientHolder: 15
        case .clientSnapshot: 16
        case .clientRelease: 17
        case .takeOver: 18
        case .sessionState: 19
        case .unknown(let type): type
        }
    }
}

/// What a node says about itself in the handshake.
struct Hello: Equatable {
    /// `name@host`.
    var name: String
    /// Random per process start: tells a restarted node from the one it replaces.
    var incarnation: UInt64
    /// The sender's cluster port, so that others can dial it.
    var port: Int
    /// 32 fresh random bytes.
    var nonce: [UInt8]
}

/// One change of the sender's routes.
struct RouteOp: Equatable {
    var add: Bool
    var filter: String
}

/// One retained topic as replicated: its stamp, and its message as an MQTT 5.0 PUBLISH (nil: deleted).
struct RetainedEntry: Equatable {
    var topic: String
    var time: UInt64
    var node: String
    var publish: ByteBuffer?
}

/// Why a handshake or link was refused.
enum RefuseReason: UInt8, Equatable, CustomStringConvertible {
    case wrongCookie = 1
    case nameClash = 2
    case unsupportedVersion = 3
    case malformed = 4
    case notClustered = 5
    case duplicateLink = 6

    var description: String {
        switch self {
        case .wrongCookie: "wrong cookie"
        case .nameClash: "name clash"
        case .unsupportedVersion: "unsupported protocol version"
        case .malformed: "malformed frame"
        case .notClustered: "not accepting links"
        case .duplicateLink: "duplicate link"
        }
    }
}
