import NIOCore

/// This node's part of the cluster-wide client registry, kept on the `ClusterMember`'s loop.
///
/// Every client id has one owner node: the member that rendezvous hashing of the id picks among
/// the members that are up (this node included). The owner records which node holds the id's
/// session, and every connect anywhere claims the id through it, so of two racing connects on
/// two nodes exactly one claims last and takes the session from the other. A node that is up
/// and holds sessions tells each owner which of them it holds (`replace(node:with:)`) whenever
/// the members change, so a new owner learns the ids it inherits.
final class ClientRegistry {
    /// Client id → the node holding its session, for the ids this node owns.
    private var holders: [String: String] = [:]

    /// This node's requests to peers (claims, take-overs) waiting for an answer, by number.
    private var waiting: [UInt64: Waiting] = [:]
    private var lastRequest: UInt64 = 0

    private struct Waiting {
        let peer: String
        let timer: Scheduled<Void>
        let answer: (Answer) -> Void
    }

    /// What a request's answer carries (or `none` when no answer came).
    enum Answer {
        case holder(String?)
        case state(ByteBuffer?)
        case none
    }

    /// The owner of `clientId` among `nodes` (names, in any order): the node with the highest
    /// hash of (node, id). Every node computes the same owner from the same members, and a member
    /// joining or leaving moves only the ids it gains or loses.
    static func owner(of clientId: String, among nodes: [String]) -> String {
        var best = nodes[0]
        var bestScore: UInt64 = 0
        for node in nodes {
            let score = score(node, clientId)
            if score > bestScore || (score == bestScore && node < best) {
                best = node
                bestScore = score
            }
        }
        return best
    }

    /// FNV-1a over `node`, a separator and `clientId`, finished with a SplitMix64 mix: stable
    /// across processes and releases (Swift's `Hasher` is seeded per process).
    private static func score(_ node: String, _ clientId: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in node.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3
        for byte in clientId.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }

    // MARK: - The entries this node owns

    /// `node` now holds `clientId`'s session; returns the node that held it before (nil: none).
    func claim(_ clientId: String, by node: String) -> String? {
        holders.updateValue(node, forKey: clientId)
    }

    /// `node` no longer holds `clientId`'s session (an entry naming another node stays).
    func release(_ clientId: String, by node: String) {
        if holders[clientId] == node { holders[clientId] = nil }
    }

    /// `node` holds exactly `clientIds` among the ids this node owns: its other entries go, and
    /// ids with no entry get one. An id another node claimed keeps that claim (claims are the
    /// newer news: a snapshot may have been taken before the session moved).
    func replace(node: String, with clientIds: [String]) {
        let held = Set(clientIds)
        holders = holders.filter { $0.value != node || held.contains($0.key) }
        for clientId in clientIds where holders[clientId] == nil { holders[clientId] = node }
    }

    /// Forgets every entry naming `node` (it is down or left: its sessions are gone with it).
    @discardableResult
    func purge(node: String) -> Int {
        let before = holders.count
        holders = holders.filter { $0.value != node }
        return before - holders.count
    }

    func removeAll() { holders.removeAll() }

    /// The node the registry names for `clientId`, if this node owns an entry for it.
    func holder(of clientId: String) -> String? { holders[clientId] }

    /// Entries this node owns.
    var count: Int { holders.count }

    // MARK: - Requests to peers

    /// Numbers a request to `peer`; `answer` runs once, on `loop`, with the answer, or with
    /// `.none` after `timeout` or when `peer` goes down first.
    func expect(from peer: String, timeout: TimeAmount, on loop: EventLoop,
                answer: @escaping (Answer) -> Void) -> UInt64 {
        lastRequest &+= 1
        let request = lastRequest
        let timer = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) { [self] in
            if let entry = waiting.removeValue(forKey: request) { entry.answer(.none) }
        }
        waiting[request] = Waiting(peer: peer, timer: timer, answer: answer)
        return request
    }

    /// The answer to `request` arrived from `peer` (ignored when it is not `peer`'s, or came too late).
    func answer(_ request: UInt64, from peer: String, with answer: Answer) {
        guard let entry = waiting[request], entry.peer == peer else { return }
        waiting[request] = nil
        entry.timer.cancel()
        entry.answer(answer)
    }

    /// `peer` went down: its open requests end without an answer.
    func abandon(peer: String) {
        let abandoned = waiting.filter { $0.value.peer == peer }
        for (request, entry) in abandoned {
            waiting[request] = nil
            entry.timer.cancel()
            entry.answer(.none)
        }
    }
}
