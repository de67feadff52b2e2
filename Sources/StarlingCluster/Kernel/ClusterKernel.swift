import NIOCore
import StarlingKernel

/// Everything the cluster asks of the broker's kernel, in one place: the links, the route and
/// retained streams and the client registry depend on this protocol only, so unit tests plug in
/// a recording fake and a change of the kernel's API is adapted here alone.
protocol ClusterKernel: AnyObject, Sendable {
    /// The event loops of the broker's group, in index order (`ClusterAttachment`'s `loopIndex`).
    var eventLoops: [EventLoop] { get }
    /// Attaches the cluster; returns the local filters and shared groups at this instant.
    func attach(cluster: ClusterAttachment) -> [String]

    // Forwarded messages (on the link's loop, one of `eventLoops`).
    @discardableResult
    func deliverForwarded(_ message: Message, on loop: EventLoop) -> Int
    @discardableResult
    func deliverForwarded(_ message: Message, for group: SharedGroupKey, on loop: EventLoop) -> Bool
    func flushDeliveries(on loop: EventLoop)
    func hasForwardBacklog(on loop: EventLoop) -> Bool
    func handoffBarrier(from loop: EventLoop) -> EventLoopFuture<Void>?

    // Retained replication (any thread).
    @discardableResult
    func applyReplicatedRetained(topic: String, message: Message?, stamp: RetainedStamp) -> Bool
    func replicatedRetained() -> [(topic: String, message: Message?, stamp: RetainedStamp)]
    func pruneRetainedTombstones()

    // The client registry.
    func surrenderSession(_ clientId: String, resume: Bool) -> EventLoopFuture<ByteBuffer?>
    func localClientIds() -> [String]
    func holdsSession(_ clientId: String) -> Bool
}

/// The only place StarlingCluster calls the `Broker`: its public cluster methods of the same names
/// witness the protocol (when the kernel's API changes, map it here).
extension Broker: ClusterKernel {}
