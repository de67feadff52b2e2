import Atomics
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import StarlingKernel

/// Forward, delivery and loss counters of one peer (kept across its reconnections).
final class PeerStats: Sendable {
    let forwardedOut = ManagedAtomic<Int>(0)
    let forwardedIn = ManagedAtomic<Int>(0)
    let lost = ManagedAtomic<Int>(0)
}

/// Sends publishes to the nodes whose routes match them, batched per event-loop tick: each
/// publishing loop collects, per peer, the encoded messages of one round of work and writes them
/// as one forward frame with one flush. One loop's messages to a peer leave in the order they were
/// published, so order per publisher and topic holds across the hop.
final class Forwarder: Sendable {
    private let routes: RemoteRouteTable
    private let outboxes: [Outbox]
    /// The live link of each peer, by name (replaced on the cluster loop, read by flushing loops).
    let links = NIOLockedValueBox<[String: PeerLink]>([:])
    private let statsByPeer = NIOLockedValueBox<[String: PeerStats]>([:])

    /// A link whose unsent bytes pass the high mark (a peer that stopped reading) takes no more
    /// forwards until they fall below the low mark: those are counted as lost, and memory stays bounded.
    static let linkWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 8 << 20, high: 16 << 20)

    init(routes: RemoteRouteTable, loops: [EventLoop]) {
        self.routes = routes
        self.outboxes = loops.map(Outbox.init)
    }

    func stats(for peer: String) -> PeerStats {
        statsByPeer.withLockedValue { table in
            if let stats = table[peer] { return stats }
            let stats = PeerStats()
            table[peer] = stats
            return stats
        }
    }

    var allStats: [String: PeerStats] { statsByPeer.withLockedValue { $0 } }

    /// The nodes with a plain route matching `topic`. On `loopIndex`'s loop.
    func nodes(matching topic: String, loopIndex: Int) -> [String] {
        guard !routes.isEmpty else { return [] }
        return outboxes[loopIndex].nodes(matching: topic, in: routes)
    }

    /// Queues `message` for each of `nodes` (for their plain subscribers). On `loopIndex`'s loop.
    func forward(_ message: Message, to nodes: [String], loopIndex: Int) {
        let outbox = outboxes[loopIndex]
        let encoded = Self.encode(message)
        for node in nodes { outbox.append(encoded, to: BatchKey(peer: node, shared: false), forwarder: self) }
    }

    /// The shared groups matching `topic` that other nodes hold members of. On `loopIndex`'s loop.
    func sharedGroups(matching topic: String, loopIndex: Int) -> [RemoteSharedGroup] {
        guard !routes.hasNoSharedGroups else { return [] }
        return outboxes[loopIndex].sharedGroups(matching: topic, in: routes)
    }

    /// Queues `message` for `node`, to be delivered there to one member of `group`. On `loopIndex`'s loop.
    func forward(_ message: Message, to node: String, for group: SharedGroupKey, loopIndex: Int) {
        let publish = Self.encode(message)
        var encoded = ByteBufferAllocator().buffer(capacity: publish.readableBytes + group.group.utf8.count + group.filter.utf8.count + 4)
        FrameCodec.writeSharedHeader(group, into: &encoded)
        encoded.writeImmutableBuffer(publish)
        outboxes[loopIndex].append(encoded, to: BatchKey(peer: node, shared: true), forwarder: self)
    }

    /// The message as an MQTT 5.0 PUBLISH, its expiry as the interval that remains.
    static func encode(_ message: Message) -> ByteBuffer { message.encodedForPeer() }

    /// Writes one loop's batches: one forward frame per peer. Messages for a peer with no live
    /// link, or whose write fails, are counted as lost.
    fileprivate func flush(_ batches: [BatchKey: Batch]) {
        let current = links.withLockedValue { $0 }
        for (key, batch) in batches {
            let stats = self.stats(for: key.peer)
            guard let link = current[key.peer], link.channel.isWritable else {
                stats.lost.wrappingIncrement(by: batch.count, ordering: .relaxed)
                continue
            }
            var frame = link.channel.allocator.buffer(capacity: batch.bytes.readableBytes + 10)
            FrameCodec.encode(key.shared ? .sharedForward(count: batch.count, publishes: batch.bytes)
                                         : .forward(count: batch.count, publishes: batch.bytes), into: &frame)
            stats.forwardedOut.wrappingIncrement(by: batch.count, ordering: .relaxed)
            let count = batch.count
            link.channel.writeAndFlush(frame).whenFailure { _ in
                stats.forwardedOut.wrappingDecrement(by: count, ordering: .relaxed)
                stats.lost.wrappingIncrement(by: count, ordering: .relaxed)
            }
        }
    }
}

/// Where a batch goes: a peer, as plain forwards or as forwards for shared groups.
private struct BatchKey: Hashable {
    var peer: String
    var shared: Bool
}

/// One peer's messages of one tick.
private struct Batch {
    var count = 0
    var bytes: ByteBuffer
}

/// One publishing loop's pending forwards. Touched on its loop only.
private final class Outbox: LoopConfined, @unchecked Sendable {
    let loop: EventLoop
    /// Recent matches (topic → nodes) valid for one generation of the remote route table:
    /// publishers reuse topics, so most forwards neither walk the trie nor take its lock.
    private var cache: [String: [String]] = [:]
    private var cacheGeneration: UInt64 = 0
    static let cacheCapacity = 4096
    private var batches: [BatchKey: Batch] = [:]
    /// Recent shared-group matches, valid for the same generation as `cache`.
    private var sharedCache: [String: [RemoteSharedGroup]] = [:]
    private var flushScheduled = false
    /// A batch this large is written at once instead of waiting for the end of the tick (smaller
    /// frames let the receiving node flush to its subscribers between them).
    static let batchLimit = 64 << 10

    init(loop: EventLoop) { self.loop = loop }

    /// Empties the caches when the route table changed since they were filled.
    private func checkGeneration(_ routes: RemoteRouteTable) {
        let generation = routes.generation
        guard generation != cacheGeneration else { return }
        cache.removeAll(keepingCapacity: true)
        sharedCache.removeAll(keepingCapacity: true)
        cacheGeneration = generation
    }

    func sharedGroups(matching topic: String, in routes: RemoteRouteTable) -> [RemoteSharedGroup] {

        assertOnLoop()
        checkGeneration(routes)
        if let groups = sharedCache[topic] { return groups }
        var groups: [RemoteSharedGroup] = []
        routes.sharedGroups(matching: topic, into: &groups)
        if sharedCache.count >= Self.cacheCapacity { sharedCache.removeAll(keepingCapacity: true) }
        sharedCache[topic] = groups
        return groups
    }

    func nodes(matching topic: String, in routes: RemoteRouteTable) -> [String] {

        assertOnLoop()
        checkGeneration(routes)
        if let nodes = cache[topic] {
            return nodes
        }
        var nodes: [String] = []
        routes.nodes(matching: topic, into: &nodes)
        if cache.count >= Self.cacheCapacity { cache.removeAll(keepingCapacity: true) }
        cache[topic] = nodes
        return nodes
    }

    func append(_ encoded: ByteBuffer, to node: BatchKey, forwarder: Forwarder) {

        assertOnLoop()
        var encoded = encoded
        if batches[node] == nil {
            batches[node] = Batch(bytes: ByteBufferAllocator().buffer(capacity: max(1024, encoded.readableBytes)))
        }
        batches[node]!.count += 1
        batches[node]!.bytes.writeBuffer(&encoded)
        if batches[node]!.bytes.readableBytes >= Self.batchLimit {
            let full = [node: batches.removeValue(forKey: node)!]
            forwarder.flush(full)
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.execute { [self] in
            flushScheduled = false
            let ready = batches
            batches.removeAll(keepingCapacity: true)
            if !ready.isEmpty { forwarder.flush(ready) }
        }
    }
}
