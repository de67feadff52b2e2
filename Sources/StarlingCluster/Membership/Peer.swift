import NIOCore

/// One member as `Membership` knows it: its address, its live link and its state. On the node's loop.
final class Peer {
    var address: PeerAddress
    var link: PeerLink?
    var state = PeerState.connecting
    var dialing = false
    var lastDial = NIODeadline.distantPast

    init(address: PeerAddress) { self.address = address }
}
