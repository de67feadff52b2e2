import NIOCore

/// The node as its links and its membership see it: links hand their events over to `loop`, and
/// an admitted link gets what its peer needs from each part, in this order.
extension ClusterMember: MembershipOwner {
    var handshakeTimeout: TimeAmount { .milliseconds(Int64(max(config.downAfterMilliseconds, 2000))) }

    func hello() -> Hello {
        Hello(name: name, incarnation: incarnation, port: port, nonce: HandshakeProof.nonce())
    }

    func stats(for peer: String) -> PeerStats { forwarder.stats(for: peer) }

    func admit(_ link: PeerLink, peer: PeerIdentity, decided: @escaping @Sendable ((RefuseReason, String)?) -> Void) {
        loop.execute { [self] in decided(admitNow(link, peer: peer)) }
    }

    /// Keeps the link (and tells the peer what it needs) or refuses it. Returns the refusal, which
    /// has then been sent.
    private func admitNow(_ link: PeerLink, peer: PeerIdentity) -> (RefuseReason, String)? {
        assertOnLoop()
        switch membership.admit(link, peer: peer) {
        case .refused(let reason, let message):
            return (reason, message)
        case .dropped:
            return nil
        case .admitted:
            routeStream.drain()
            if !link.dialled { link.send(.welcome(members: membership.knownAddresses)) }
            routeStream.sendSnapshot(to: link)
            retained.sendSnapshot(to: link)
            membership.announce(link, peer: peer.address)
            registry.resync()
            return nil
        }
    }

    func learn(_ members: [PeerAddress]) {
        loop.execute { [membership] in membership.learn(members) }
    }

    func linkClosed(_ link: PeerLink) {
        loop.execute { [membership] in membership.linkClosed(link) }
    }

    func received(_ frame: Frame, from peer: PeerIdentity, link: PeerLink) {
        switch frame {
        case .retained(let entries):
            // Applied on the link's loop: the store has its own lock.
            retained.apply(entries, from: peer)
        case .routeSnapshot, .routeOps:
            loop.execute { [routeStream] in routeStream.received(frame, from: peer, link: link) }
        case .leave:
            loop.execute { [membership] in membership.peerLeft(peer, link: link) }
        default:
            loop.execute { [registry] in registry.received(frame, from: peer, link: link) }
        }
    }

    func peerGone(_ peer: String) -> (routes: Int, sessions: Int) {

        assertOnLoop()
        let routes = routeStream.purge(peer)
        return (routes, registry.forget(peer))
    }
}
