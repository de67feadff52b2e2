import Atomics
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import StarlingKernel

/// Replicates retained messages: every node holds every retained topic, each change stamped
/// (wall-clock milliseconds, then node name) so that all copies converge by last writer wins,
/// whatever order the changes reach each node in. Deletes travel as tombstones for the same reason.
///
/// Local changes are recorded on the publishing loop (encoded there, once) and sent to every peer
/// by the cluster's loop; a link that comes up first receives the sender's whole set.
final class RetainedReplicator: Sendable {
    private let pending = NIOLockedValueBox<[RetainedEntry]>([])
    private let drainScheduled = ManagedAtomic<Bool>(false)

    /// A frame carries at most about this many bytes of messages (more entries go in further frames).
    static let frameBytes = 256 << 10

    /// Records a local change. Returns true when the caller must schedule `take` on the cluster's
    /// loop (none is scheduled yet).
    func record(topic: String, message: Message?, stamp: RetainedStamp) -> Bool {
        let entry = RetainedEntry(topic: topic, time: stamp.time, node: stamp.node, publish: message.map(Forwarder.encode))
        pending.withLockedValue { $0.append(entry) }
        return !drainScheduled.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// The changes recorded since the last call, in order.
    func take() -> [RetainedEntry] {
        drainScheduled.store(false, ordering: .releasing)
        return pending.withLockedValue { entries in
            defer { entries.removeAll(keepingCapacity: true) }
            return entries
        }
    }

    /// This node's whole replicated set (recent deletes included), for a peer whose link came up.
    static func snapshot(of kernel: any ClusterKernel) -> [RetainedEntry] {
        kernel.replicatedRetained().map { item in
            RetainedEntry(topic: item.topic, time: item.stamp.time, node: item.stamp.node,
                          publish: item.message.map(Forwarder.encode))
        }
    }

    /// `entries` as frames of at most about `frameBytes` each.
    static func frames(_ entries: [RetainedEntry]) -> [Frame] {
        var frames: [Frame] = []
        var chunk: [RetainedEntry] = []
        var bytes = 0
        for entry in entries {
            chunk.append(entry)
            bytes += entry.topic.utf8.count + (entry.publish?.readableBytes ?? 0) + 32
            if bytes >= frameBytes {
                frames.append(.retained(chunk))
                chunk.removeAll(keepingCapacity: true)
                bytes = 0
            }
        }
        if !chunk.isEmpty { frames.append(.retained(chunk)) }
        return frames
    }

    /// Applies a peer's entries to this node's store (each only if newer than what it holds).
    /// Returns the entries that could not be read (bad PUBLISH bytes), for the log.
    static func apply(_ entries: [RetainedEntry], to kernel: any ClusterKernel) -> [String] {
        var bad: [String] = []
        let now = NIODeadline.now()
        var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
        for entry in entries {
            var message: Message? = nil
            if var bytes = entry.publish {
                guard case .publish(let publish)? = try? decoder.next(from: &bytes), publish.topic == entry.topic else {
                    bad.append(entry.topic)
                    continue
                }
                message = Message(publish: publish, topic: publish.topic, publisherId: nil, now: now)
            }
            kernel.applyReplicatedRetained(topic: entry.topic, message: message,
                                           stamp: RetainedStamp(time: entry.time, node: entry.node))
        }
        return bad
    }
}
