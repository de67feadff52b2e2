import MQTTCore
import NIOCore

extension Broker {
    /// The counters and gauges for the operator, metrics and `$SYS`: every loop's counters added
    /// up now. Safe from any thread; costs a few hundred relaxed loads, nothing on the hot path.
    public var stats: BrokerStats {
        var stats = BrokerStats()
        stats.connections = connections.count
        stats.peakConnections = peakConnections.load(ordering: .relaxed)
        stats.sessions = registry.count
        stats.subscriptions = router.lockedSubscriptionCount
        stats.retained = retained.count
        stats.uptimeSeconds = Int((NIODeadline.now() - startTime).nanoseconds / 1_000_000_000)
        func total(_ slot: LoopStats.Slot) -> Int {
            contexts.reduce(0) { $0 + $1.stats.value(slot) }
        }
        stats.messagesReceived = total(.messagesReceived)
        stats.messagesSent = total(.messagesSent)
        stats.bytesReceived = total(.bytesReceived)
        stats.bytesSent = total(.bytesSent)
        stats.connects = total(.connects)
        stats.pendingOpen = hooks.openTickets
        stats.pendingTimeouts = total(.pendingTimeouts)
        for reason in LoopStats.DropReason.allCases {
            stats.dropped[reason.name] = total(.dropped(reason))
        }
        for type in PacketType.fromClients {
            stats.packetsReceived[type.label] = total(.received(type))
        }
        for type in PacketType.toClients {
            stats.packetsSent[type.label] = total(.sent(type))
        }
        for reason in DisconnectReason.allCases {
            stats.disconnects[reason.rawValue] = total(.disconnected(reason))
        }
        for result in AuthenticationResult.allCases {
            stats.authentications[result.rawValue] = total(.authenticated(result))
        }
        for action in AuthorizationAction.allCases {
            for result in AuthorizationResult.allCases {
                stats.authorizations[action.rawValue, default: [:]][result.rawValue] = total(.authorized(action, result))
            }
        }
        return stats
    }
}

extension PacketType {
    /// The packet types a client may send (any other one closes its connection).
    static let fromClients: [PacketType] = [.connect, .publish, .puback, .pubrec, .pubrel, .pubcomp, .subscribe,
                                            .unsubscribe, .pingreq, .disconnect, .auth]
    /// The packet types the broker sends.
    static let toClients: [PacketType] = [.connack, .publish, .puback, .pubrec, .pubrel, .pubcomp, .suback,
                                          .unsuback, .pingresp, .disconnect, .auth]

    /// The type's name in lower case (`publish`), as metrics label it.
    public var label: String { description.lowercased() }
}
