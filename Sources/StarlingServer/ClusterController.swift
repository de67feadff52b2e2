import StarlingAdmin
import StarlingCluster

/// The API's cluster control over the node's `ClusterMember`: its snapshots in the API's shape.
struct ClusterController: ClusterControl {
    let member: ClusterMember

    func status() async -> ClusterStatus {
        Self.status(await member.snapshot())
    }

    func join(node: String, timeoutSeconds: Double) async throws(ClusterJoinError) -> ClusterStatus {
        do {
            return Self.status(try await member.join(node: node, timeoutSeconds: timeoutSeconds))
        } catch {
            throw ClusterJoinError(Self.kind(of: error.kind), error.message)
        }
    }

    func leave() async -> ClusterStatus {
        Self.status(await member.leave())
    }

    static func status(_ snapshot: ClusterSnapshot) -> ClusterStatus {
        let members = snapshot.peers.map { peer in
            ClusterMemberStatus(
                name: peer.address.name, address: "\(peer.address.host):\(peer.address.port)",
                state: peer.state.rawValue, routes: peer.routes,
                link: peer.link.map { "\($0.dialled ? "dialled" : "accepted") \($0.addresses)" },
                lastHeardMs: peer.link.map { Int($0.silence.nanoseconds / 1_000_000) },
                forwardedOut: peer.forwardedOut, forwardedIn: peer.forwardedIn, forwardsLost: peer.forwardsLost)
        }
        return ClusterStatus(node: snapshot.node, enabled: true, clusterPort: snapshot.clusterPort,
                             localRoutes: snapshot.localRoutes, remoteRoutes: members.reduce(0) { $0 + $1.routes },
                             members: members, ownedClientIds: snapshot.ownedClientIds)
    }

    private static func kind(of kind: JoinFailure.Kind) -> ClusterJoinError.Kind {
        switch kind {
        case .badNode: .badNode
        case .wrongCookie: .wrongCookie
        case .nameClash: .nameClash
        case .refused: .refused
        case .unreachable: .unreachable
        case .timeout: .timeout
        }
    }
}
