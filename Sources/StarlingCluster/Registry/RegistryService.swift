import Logging
import NIOCore
import StarlingKernel

/// The cluster-wide client registry as this node takes part in it: claims, take-overs and
/// releases of the ids connecting here, the answers to peers' requests for the ids this node
/// owns or holds, and the resync of the owners whenever the members change. The entries and the
/// open requests are the `ClientRegistry`'s; everything runs on `loop`, the node's loop.
final class RegistryService: LoopConfined, @unchecked Sendable {
    private let name: String
    let loop: EventLoop
    private let kernel: any ClusterKernel
    private let peers: any PeerDirectory
    private let logger: Logger
    /// How long a claim or a take-over waits for the peer's answer before the connect goes on
    /// without it (as if the id had no session elsewhere).
    let timeout: TimeAmount
    private let clients = ClientRegistry()

    init(name: String, loop: EventLoop, kernel: any ClusterKernel, peers: any PeerDirectory, timeout: TimeAmount,
         logger: Logger) {
        self.name = name
        self.loop = loop
        self.kernel = kernel
        self.peers = peers
        self.timeout = timeout
        self.logger = logger
    }

    /// Entries this node owns.
    var count: Int {
        assertOnLoop()
        return clients.count
    }

    /// See `ClusterAttachment.claimSession`: the claim, then, when another node held the id, the
    /// take-over of its session.
    func claimSession(_ clientId: String, resume: Bool, completion: @escaping @Sendable (MovedSession?) -> Void) {
        guard resume else {
            completion(nil)
            return claim(clientId) { [self] holder in
                guard let holder, holder != name else { return }
                takeOver(clientId, from: holder, resume: false) { _ in }
            }
        }
        claim(clientId) { [self] holder in
            guard let holder, holder != name else { return completion(nil) }
            takeOver(clientId, from: holder, resume: true) { state in
                completion(state.map { MovedSession(state: $0, from: holder) })
            }
        }
    }

    /// Registers this node as the holder of `clientId` with the id's owner node; `completion` (any
    /// thread) gets the node that held it until now (nil: none; this node's name: a session here).
    func claim(_ clientId: String, completion: @escaping @Sendable (String?) -> Void) {
        loop.execute { [self] in
            let owner = ClientRegistry.owner(of: clientId, among: peers.upNodes)
            guard owner != name, let link = peers.link(of: owner) else {
                return completion(clients.claim(clientId, by: name))
            }
            let request = clients.expect(from: owner, timeout: timeout, on: loop) { [self] answer in
                guard case .holder(let holder) = answer else {
                    logger.warning("cluster: no answer to a client id claim; connecting without a take-over",
                                   metadata: ["client_id": "\(clientId)", "owner": "\(owner)"])
                    return completion(nil)
                }
                completion(holder)
            }
            link.send(.clientClaim(request: request, clientId: clientId))
        }
    }

    /// Asks `node` to hand its session for `clientId` over to this node; `completion` (any thread)
    /// gets its state (`resume`), or nil: none there, discarded as asked, or no answer in time.
    func takeOver(_ clientId: String, from node: String, resume: Bool, completion: @escaping @Sendable (ByteBuffer?) -> Void) {
        loop.execute { [self] in
            guard let link = peers.link(of: node) else { return completion(nil) }
            let request = clients.expect(from: node, timeout: timeout, on: loop) { [self] answer in
                guard case .state(let state) = answer else {
                    logger.warning("cluster: no session from the node that held it; starting a new one",
                                   metadata: ["client_id": "\(clientId)", "peer": "\(node)"])
                    return completion(nil)
                }
                completion(state)
            }
            link.send(.takeOver(request: request, clientId: clientId, resume: resume))
        }
    }

    /// See `ClusterAttachment.sessionReleased`.
    func released(_ clientId: String) {
        loop.execute { [self] in
            // A new session claimed the id here meanwhile: its claim stands.
            guard !kernel.holdsSession(clientId) else { return }
            let owner = ClientRegistry.owner(of: clientId, among: peers.upNodes)
            if owner == name {
                clients.release(clientId, by: name)
            } else {
                peers.link(of: owner)?.send(.clientRelease(clientId))
            }
        }
    }

    /// A peer's registry frame (on `loop`): claims and releases for ids this node owns, the
    /// peer's snapshot, answers to this node's requests, and take-over requests.
    func received(_ frame: Frame, from peer: PeerIdentity, link: PeerLink) {
        assertOnLoop()
        let peerName = peer.address.name
        guard peers.link(of: peerName) === link else { return }
        switch frame {
        case .clientClaim(let request, let clientId):
            link.send(.clientHolder(request: request, holder: clients.claim(clientId, by: peerName) ?? ""))
        case .clientHolder(let request, let holder):
            clients.answer(request, from: peerName, with: .holder(holder.isEmpty ? nil : holder))
        case .clientSnapshot(let clientIds):
            clients.replace(node: peerName, with: clientIds)
        case .clientRelease(let clientId):
            clients.release(clientId, by: peerName)
        case .takeOver(let request, let clientId, let resume):
            logger.info("cluster: session taken over by another node",
                        metadata: ["client_id": "\(clientId)", "peer": "\(peerName)", "resume": "\(resume)"])
            kernel.surrenderSession(clientId, resume: resume).whenSuccess { state in
                link.send(.sessionState(request: request, state: state))
            }
        case .sessionState(let request, let state):
            clients.answer(request, from: peerName, with: .state(state))
        default:
            break
        }
    }

    /// The members changed: tells every owner which of its ids this node holds, and keeps this
    /// node's own entries for the ids it owns now.
    func resync() {
        assertOnLoop()
        let owners = peers.upNodes
        var byOwner = Dictionary(uniqueKeysWithValues: owners.map { ($0, [String]()) })
        for clientId in kernel.localClientIds() {
            byOwner[ClientRegistry.owner(of: clientId, among: owners)]!.append(clientId)
        }
        for (owner, clientIds) in byOwner {
            if owner == name {
                clients.replace(node: name, with: clientIds)
            } else {
                peers.link(of: owner)?.send(.clientSnapshot(clientIds))
            }
        }
    }

    /// A peer is down or left: its entries go, its open requests end, and the ids it owned find
    /// their new owners. Returns how many entries went.
    @discardableResult
    func forget(_ peer: String) -> Int {
        assertOnLoop()
        let purged = clients.purge(node: peer)
        clients.abandon(peer: peer)
        resync()
        return purged
    }

    /// This node left the cluster: it owns no entry any more.
    func removeAll() {
        assertOnLoop()
        clients.removeAll()
    }
}
