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

    /// Queues `message` for each node with a matching route; returns how many. On `loopIndex`'s loop.
    func forward(_ message: Message, loopIndex: Int) -> Int {
        guard !routes.isEmpty else { return 0 }
        let outbox = outboxes[loopIndex]
        let nodes = outbox.nodes(matching: message.topic, in: routes)
        guard !nodes.isEmpty else { return 0 }
        let encoded = Self.encode(message)
        for node in nodes { outbox.append(encoded, to: node, forwarder: self) }
        return nodes.count
    }

    /// The message as an MQTT 5.0 PUBLISH, its expiry as the interval that remains.
    static func encode(_ message: Message) -> ByteBuffer {
        let publish = Publish(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                              packetIdentifier: message.qos == .atMostOnce ? nil : 1,
                              properties: message.outgoingProperties(now: .now(), subscriptionIdentifiers: []))
        var buffer = ByteBufferAllocator().buffer(capacity: MQTTPacketEncoder.encodedSize(ofPublish: publish, version: .v5))
        MQTTPacketEncoder.encode(.publish(publish), version: .v5, into: &buffer)
        return buffer
    }

    /// Writes one loop's batches: one forward frame per peer. Messages for a peer with no live
    /// link, or whose write fails, are counted as lost.
    fileprivate func flush(_ batches: [String: Batch]) {
        let current = links.withLockedValue { $0 }
        for (peer, batch) in batches {
            let stats = self.stats(for: peer)
            guard let link = current[peer], link.channel.isWritable else {
                stats.lost.wrappingIncrement(by: batch.count, ordering: .relaxed)
                continue
            }
            var frame = link.channel.allocator.buffer(capacity: batch.bytes.readableBytes + 10)
            FrameCodec.encode(.forward(count: batch.count, publishes: batch.bytes), into: &frame)
            stats.forwardedOut.wrappingIncrement(by: batch.count, ordering: .relaxed)
            let count = batch.count
            link.channel.writeAndFlush(frame).whenFailure { _ in
                stats.forwardedOut.wrappingDecrement(by: count, ordering: .relaxed)
                stats.lost.wrappingIncrement(by: count, ordering: .relaxed)
            }
        }
    }
}

/// One peer's messages of one tick.
private struct Batch {
    var count = 0
    var bytes: ByteBuffer
}

/// One publishing loop's pending forwards. Touched on its loop only.
private final class Outbox: @unchecked Sendable {
    let loop: EventLoop
    /// Recent matches (topic → nodes) valid for one generation of the remote route table:
    /// publishers reuse topics, so most forwards neither walk the trie nor take its lock.
    private var cache: [String: [String]] = [:]
    private var cacheGeneration: UInt64 = 0
    static let cacheCapacity = 4096
    private var batches: [String: Batch] = [:]
    private var flushScheduled = false
    /// A batch this large is written at once instead of waiting for the end of the tick (smaller
    /// frames let the receiving node flush to its subscribers between them).
    static let batchLimit = 64 << 10

    init(loop: EventLoop) { self.loop = loop }

    func nodes(matching topic: String, in routes: RemoteRouteTable) -> [String] {
        let generation = routes.generation
        if generation != cacheGeneration {
            cache.removeAll(keepingCapacity: true)
            cacheGeneration = generation
        } else if let nodes = cache[topic] {
            return nodes
        }
        var nodes: [String] = []
        routes.nodes(matching: topic, into: &nodes)
        if cache.count >= Self.cacheCapacity { cache.removeAll(keepingCapacity: true) }
        cache[topic] = nodes
        return nodes
    }

    func append(_ encoded: ByteBuffer, to node: String, forwarder: Forwarder) {
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
