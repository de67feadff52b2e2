/// The broker's `$SYS` topics, in the EMQX layout (`$SYS/brokers/{node}/…`), and what they carry.
enum SysTopics {
    /// `$SYS/brokers/{node}`.
    static func prefix(node: String) -> String { "$SYS/brokers/\(node)" }

    /// Published once, retained, when the node starts: they change only with a new release.
    static func retained(node: String, version: String) -> [(topic: String, payload: String)] {
        let prefix = prefix(node: node)
        return [
            ("$SYS/brokers", node),
            ("\(prefix)/version", version),
            ("\(prefix)/sysdescr", "Starling MQTT broker"),
        ]
    }

    /// Published every `sys.interval` seconds, not retained: uptime (seconds), the date and time
    /// (ISO 8601, UTC), the stats (current counts) and the metrics (running totals).
    static func periodic(node: String, stats: BrokerStats, datetime: String) -> [(topic: String, payload: String)] {
        let prefix = prefix(node: node)
        var topics: [(topic: String, payload: String)] = [
            ("\(prefix)/uptime", String(stats.uptimeSeconds)),
            ("\(prefix)/datetime", datetime),
        ]
        func add(_ path: String, _ value: Int) { topics.append(("\(prefix)/\(path)", String(value))) }
        add("stats/connections/count", stats.connections)
        add("stats/connections/max", stats.peakConnections)
        add("stats/sessions/count", stats.sessions)
        add("stats/subscriptions/count", stats.subscriptions)
        add("stats/retained/count", stats.retained)
        add("metrics/messages/received", stats.messagesReceived)
        add("metrics/messages/sent", stats.messagesSent)
        add("metrics/messages/dropped", stats.droppedTotal)
        for (reason, count) in stats.dropped.sorted(by: { $0.key < $1.key }) {
            add("metrics/messages/dropped/\(reason)", count)
        }
        add("metrics/bytes/received", stats.bytesReceived)
        add("metrics/bytes/sent", stats.bytesSent)
        add("metrics/packets/received", stats.packetsReceivedTotal)
        add("metrics/packets/sent", stats.packetsSentTotal)
        for (direction, counts) in [("received", stats.packetsReceived), ("sent", stats.packetsSent)] {
            for (type, count) in counts.sorted(by: { $0.key < $1.key }) {
                add("metrics/packets/\(type)/\(direction)", count)
            }
        }
        add("metrics/client/connected", stats.connects)
        add("metrics/client/disconnected", stats.disconnectsTotal)
        return topics
    }
}
