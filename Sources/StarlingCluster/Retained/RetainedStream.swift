import Logging
import NIOCore
import StarlingKernel

/// Retained replication between this node and its peers: streams local retained changes to every
/// peer (drained on `loop`, the node's loop), sends the whole replicated set to a peer whose link
/// came up, applies what peers send (on their links' loops: the store has its own lock), and
/// prunes old tombstones every ten minutes. The encoding and the rules are `RetainedReplicator`'s.
final class RetainedStream: LoopConfined, @unchecked Sendable {  // `pruning` on `loop` only
    private let replicator = RetainedReplicator()
    private let kernel: any ClusterKernel
    let loop: EventLoop
    private let peers: any PeerDirectory
    private let logger: Logger
    private var pruning: RepeatedTask?

    init(kernel: any ClusterKernel, loop: EventLoop, peers: any PeerDirectory, logger: Logger) {
        self.kernel = kernel
        self.loop = loop
        self.peers = peers
        self.logger = logger
    }

    /// Starts (`true`) or stops pruning retained tombstones, on `loop`.
    func prune(_ on: Bool) {
        assertOnLoop()
        pruning?.cancel()
        pruning = nil
        guard on else { return }
        pruning = loop.scheduleRepeatedTask(initialDelay: .minutes(10), delay: .minutes(10)) { [kernel] _ in
            kernel.pruneRetainedTombstones()
        }
    }

    /// A local retained change (any loop): recorded, then sent to every peer from `loop`.
    func changed(topic: String, message: Message?, stamp: RetainedStamp) {
        if replicator.record(topic: topic, message: message, stamp: stamp) {
            loop.execute { [self] in drain() }
        }
    }

    /// Sends the recorded local retained changes to every peer.
    private func drain() {
        assertOnLoop()
        let entries = replicator.take()
        guard !entries.isEmpty else { return }
        let frames = RetainedReplicator.frames(entries)
        for link in peers.links {
            for frame in frames { link.send(frame) }
        }
    }

    /// Sends this node's whole replicated set to a peer whose link came up.
    func sendSnapshot(to link: PeerLink) {
        assertOnLoop()
        for frame in RetainedReplicator.frames(RetainedReplicator.snapshot(of: kernel)) { link.send(frame) }
    }

    /// Applies retained changes a peer sent (any loop).
    func apply(_ entries: [RetainedEntry], from peer: PeerIdentity) {
        let bad = RetainedReplicator.apply(entries, to: kernel)
        if !bad.isEmpty {
            logger.error("cluster: bad retained message", metadata: ["peer": "\(peer.address.name)", "topics": "\(bad)"])
        }
    }
}
