import NIOCore

/// One member as `Membership` knows it: its address, its live link and its state. On the node's loop.
final class Member {
    var address: NodeAddress
    var link: PeerLink?
    var state = State.connecting
    var dialing = false
    var lastDial = NIODeadline.distantPast

    enum State: String { case up, down, connecting }

    init(address: NodeAddress) { self.address = address }
}
