/// The cookie handshake of one link as a pure state machine: it takes the peer's frames and says
/// what to do (send a frame, refuse the link, or hand the established link on). No I/O; owned by
/// the link's `LinkHandler`, on its channel's loop.
///
/// Dialer: `hello` → (`challenge`) → `proof` → (`welcome`). Acceptor: (`hello`) → `challenge` →
/// (`proof`) → established (the node then sends `welcome`). Each side proves the cookie with an
/// HMAC over both nonces (`HandshakeProof`).
struct LinkHandshake {
    enum State: Equatable {
        case awaitingHello
        case awaitingChallenge(mine: Hello)
        case awaitingProof(dialer: Hello, mine: Hello)
        case awaitingWelcome(mine: Hello, acceptor: Hello)
        case established(PeerAddress, incarnation: UInt64)
        case closed
    }

    /// What the link does with a frame of the handshake.
    enum Action: Equatable {
        /// Send this frame and wait for the next.
        case send(Frame)
        /// The handshake succeeded: hand the link to the node; `members` is what a dialer learnt
        /// from the acceptor's welcome (nil on the accepting side).
        case establish(PeerAddress, incarnation: UInt64, members: [PeerAddress]?)
        /// Refuse the link with this reason and message (sent to the peer, then the link closes).
        case refuse(RefuseReason, String)
    }

    /// This node's name and the cluster's cookie.
    let name: String
    let cookie: String
    /// The node this side dialled (nil: an accepted link).
    let target: PeerAddress?
    private(set) var state = State.awaitingHello

    init(name: String, cookie: String, target: PeerAddress?) {
        self.name = name
        self.cookie = cookie
        self.target = target
    }

    var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    /// The peer's name as far as known, for the log.
    var peerDescription: String {
        if let name = target?.name { return name }
        if case .established(let address, _) = state { return address.name }
        if case .awaitingProof(let dialer, _) = state { return dialer.name }
        return "an unnamed node"
    }

    /// The dialer's first frame, once connected: `mine` (this node's hello).
    mutating func start(_ mine: Hello) -> Frame {
        state = .awaitingChallenge(mine: mine)
        return .hello(mine)
    }

    /// The link is closed (refused, failed or established links alike).
    mutating func close() { state = .closed }

    /// A frame before the handshake is done; `hello` makes this node's hello when one is needed.
    mutating func receive(_ frame: Frame, hello: () -> Hello) -> Action {
        switch (state, frame) {
        case (.awaitingHello, .hello(let dialer)):
            if dialer.name == name {
                return .refuse(.nameClash, "\(dialer.name) is the name of the node it connected to")
            }
            let mine = hello()
            state = .awaitingProof(dialer: dialer, mine: mine)
            return .send(.challenge(mine, proof: HandshakeProof.make(cookie: cookie, side: .acceptor, dialer: dialer, acceptor: mine)))
        case (.awaitingChallenge(let mine), .challenge(let acceptor, let proof)):
            if acceptor.name == name {
                return .refuse(.nameClash, "\(acceptor.name) is also the name of the node that connected")
            }
            if let target, target.name != acceptor.name {
                return .refuse(.nameClash, "the node at \(target.host):\(target.port) is named \(acceptor.name), not \(target.name)")
            }
            guard HandshakeProof.verify(proof, cookie: cookie, side: .acceptor, dialer: mine, acceptor: acceptor) else {
                return .refuse(.wrongCookie, "\(acceptor.name)'s cookie proof does not match the cookie of \(name)")
            }
            state = .awaitingWelcome(mine: mine, acceptor: acceptor)
            return .send(.proof(HandshakeProof.make(cookie: cookie, side: .dialer, dialer: mine, acceptor: acceptor)))
        case (.awaitingProof(let dialer, let mine), .proof(let proof)):
            guard HandshakeProof.verify(proof, cookie: cookie, side: .dialer, dialer: dialer, acceptor: mine) else {
                return .refuse(.wrongCookie, "\(dialer.name)'s cookie proof does not match the cookie of \(name)")
            }
            return establish(dialer, members: nil)
        case (.awaitingWelcome(_, let acceptor), .welcome(let members)):
            return establish(acceptor, members: members)
        default:
            return .refuse(.malformed, "unexpected frame type \(frame.typeCode) at this point of the link")
        }
    }

    private mutating func establish(_ peer: Hello, members: [PeerAddress]?) -> Action {
        let address = PeerAddress(name: peer.name, port: peer.port)
        state = .established(address, incarnation: peer.incarnation)
        return .establish(address, incarnation: peer.incarnation, members: members)
    }
}
