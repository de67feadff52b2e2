import Atomics
import NIOConcurrencyHelpers
import NIOCore
import StarlingKernel

/// The route stream between nodes. Each node owns its routes: it streams its adds and deletes to
/// every peer in order, sends a full snapshot when a link comes up, and keeps what each peer
/// streamed in the `RemoteRouteTable` until the peer is down or leaves — no consensus needed.
///
/// Local changes are recorded under the router's lock (any thread) and drained on `loop`, the
/// node's loop, where everything else here happens.
final class RouteStream: LoopConfined, @unchecked Sendable {
    let loop: EventLoop
    private let peers: any PeerDirectory
    /// The other nodes' routes.
    let routes: RemoteRouteTable
    private let pendingOps = NIOLockedValueBox<[RouteOp]>([])
    private let drainScheduled = ManagedAtomic<Bool>(false)
    /// This node's own filters (and shared groups), as streamed so far.
    private(set) var localFilters: Set<String> = []

    init(loop: EventLoop, peers: any PeerDirectory, routes: RemoteRouteTable) {
        self.loop = loop
        self.peers = peers
        self.routes = routes
    }

    /// The local filters when the cluster attached to the kernel (on `loop`).
    func attached(with filters: [String]) {
        assertOnLoop()
        localFilters = Set(filters)
    }

    /// Records a local change (any thread; under the router's lock: never blocks).
    func record(_ op: RouteOp) {
        pendingOps.withLockedValue { $0.append(op) }
        if !drainScheduled.exchange(true, ordering: .acquiringAndReleasing) {
            loop.execute { [self] in drain() }
        }
    }

    /// Applies recorded local route changes and streams them to every peer, in order.
    func drain() {
        assertOnLoop()
        drainScheduled.store(false, ordering: .releasing)
        let ops = pendingOps.withLockedValue { ops in
            defer { ops.removeAll(keepingCapacity: true) }
            return ops
        }
        guard !ops.isEmpty else { return }
        for op in ops {
            if op.add { localFilters.insert(op.filter) } else { localFilters.remove(op.filter) }
        }
        let links = peers.links
        guard !links.isEmpty else { return }
        var start = 0
        while start < ops.count {
            let chunk = Array(ops[start..<min(start + 10_000, ops.count)])
            for link in links { link.send(.routeOps(chunk)) }
            start += chunk.count
        }
    }

    /// Sends every local route to a peer whose link came up.
    func sendSnapshot(to link: PeerLink) {
        assertOnLoop()
        link.send(.routeSnapshot(filters: localFilters.sorted()))
    }

    /// A peer's snapshot or ops, from its current link (others are stale: ignored).
    func received(_ frame: Frame, from peer: PeerIdentity, link: PeerLink) {
        assertOnLoop()
        let peerName = peer.address.name
        guard peers.link(of: peerName) === link else { return }
        switch frame {
        case .routeSnapshot(let filters):
            routes.replace(node: peerName, with: filters)
        case .routeOps(let ops):
            for op in ops {
                if op.add { routes.add(op.filter, node: peerName) } else { routes.remove(op.filter, node: peerName) }
            }
        default:
            break
        }
    }

    /// Forgets `peer`'s routes; returns how many.
    @discardableResult
    func purge(_ peer: String) -> Int {
        assertOnLoop()
        return routes.purge(node: peer)
    }
}
