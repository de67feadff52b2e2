import Atomics
import NIOCore

/// One established (or establishing) TCP link to another node. Its handler reads frames on the
/// channel's loop; membership decisions are the `ClusterMember`'s, on its own loop.
final class PeerLink: Sendable {
    let channel: Channel
    /// True when this node dialled the link.
    let dialled: Bool
    /// When a frame last arrived (nanoseconds of `NIODeadline.uptimeNanoseconds`).
    let lastHeard = ManagedAtomic<UInt64>(NIODeadline.now().uptimeNanoseconds)
    /// Set when this node replaced or closed the link on purpose: its close is not a failure.
    let retired = ManagedAtomic<Bool>(false)
    /// The peer, once the handshake has named it.
    let peer = ManagedAtomicLazyReference<PeerIdentity>()

    init(channel: Channel, dialled: Bool) {
        self.channel = channel
        self.dialled = dialled
    }

    /// Writes `frame` and flushes; failures close the channel (its close handler reports it).
    func send(_ frame: Frame) {
        var buffer = channel.allocator.buffer(capacity: 64)
        FrameCodec.encode(frame, into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Writes `frame`; the future completes once it is written.
    func sendWithFuture(_ frame: Frame) -> EventLoopFuture<Void> {
        var buffer = channel.allocator.buffer(capacity: 64)
        FrameCodec.encode(frame, into: &buffer)
        return channel.writeAndFlush(buffer)
    }

    /// Closes the link on purpose (no failure is reported for it).
    func retire() {
        retired.store(true, ordering: .relaxed)
        channel.close(promise: nil)
    }

    var silentNanoseconds: UInt64 {
        NIODeadline.now().uptimeNanoseconds &- lastHeard.load(ordering: .relaxed)
    }

    /// `local -> remote` addresses, for status output.
    var addresses: String {
        "\(channel.localAddress.map(describe) ?? "?") -> \(channel.remoteAddress.map(describe) ?? "?")"
    }

    private func describe(_ address: SocketAddress) -> String {
        "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }
}

/// Who is at the other end of a link.
final class PeerIdentity: Sendable {
    let address: PeerAddress
    let incarnation: UInt64

    init(address: PeerAddress, incarnation: UInt64) {
        self.address = address
        self.incarnation = incarnation
    }
}
