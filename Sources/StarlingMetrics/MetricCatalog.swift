import StarlingKernel

/// One metric the node exports: its name, help text, kind, and how to read its series (label
/// sets and values) from a `BrokerStats` snapshot.
public struct MetricDefinition: Sendable {
    /// A counter only grows; a gauge is a current value.
    public enum Kind: String, Sendable {
        case counter
        case gauge
    }

    /// One series: its labels and its value.
    public typealias Series = (labels: [(String, String)], value: Int)

    public let name: String
    public let help: String
    public let kind: Kind
    let read: @Sendable (BrokerStats) -> [Series]

    static func counter(_ name: String, _ help: String, _ value: @escaping @Sendable (BrokerStats) -> Int) -> Self {
        MetricDefinition(name: name, help: help, kind: .counter, read: { [([], value($0))] })
    }

    static func gauge(_ name: String, _ help: String, _ value: @escaping @Sendable (BrokerStats) -> Int) -> Self {
        MetricDefinition(name: name, help: help, kind: .gauge, read: { [([], value($0))] })
    }

    /// A counter with one label, one series per key of the dictionary `values` reads.
    static func counter(_ name: String, _ help: String, label: String,
                        _ values: @escaping @Sendable (BrokerStats) -> [String: Int]) -> Self {
        MetricDefinition(name: name, help: help, kind: .counter, read: { stats in
            values(stats).sorted { $0.key < $1.key }.map { ([(label, $0.key)], $0.value) }
        })
    }
}

/// Every metric of the `starling_` namespace, as `MetricsCollector` reports them.
public enum MetricCatalog {
    public static let all: [MetricDefinition] = [
        .gauge("starling_connections", "Clients connected now.") { $0.connections },
        .gauge("starling_connections_max", "The most clients connected at once since the node started.") { $0.peakConnections },
        .gauge("starling_sessions", "Sessions held, connected or not.") { $0.sessions },
        .gauge("starling_subscriptions", "Subscriptions held, plain and shared.") { $0.subscriptions },
        .gauge("starling_retained_messages", "Retained messages stored.") { $0.retained },
        .gauge("starling_uptime_seconds", "Seconds since the node started.") { $0.uptimeSeconds },
        .gauge("starling_plugins_pending_open", "Plugin hook calls answered PENDING and not answered yet (open tickets).") {
            $0.pendingOpen
        },
        .counter("starling_connects_total", "Clients that completed CONNECT.") { $0.connects },
        .counter("starling_plugins_pending_timeouts_total",
                 "PENDING plugin answers that did not come within plugin_loader.pending_timeout (each denied).") {
            $0.pendingTimeouts
        },
        .counter("starling_disconnects_total", "Connected clients whose connection ended, by reason.",
                 label: "reason") { $0.disconnects },
        .counter("starling_packets_received_total", "MQTT packets received from clients, by packet type.",
                 label: "type") { $0.packetsReceived },
        .counter("starling_packets_sent_total", "MQTT packets sent to clients, by packet type.",
                 label: "type") { $0.packetsSent },
        .counter("starling_bytes_received_total", "Bytes read from client connections.") { $0.bytesReceived },
        .counter("starling_bytes_sent_total", "Bytes written to client connections.") { $0.bytesSent },
        .counter("starling_messages_received_total", "PUBLISH packets received from clients.") { $0.messagesReceived },
        .counter("starling_messages_sent_total", "PUBLISH packets sent to clients.") { $0.messagesSent },
        .counter("starling_messages_dropped_total", "Messages not delivered, by reason.",
                 label: "reason") { $0.dropped },
        .counter("starling_authentications_total", "CONNECT authentication outcomes, by result.",
                 label: "result") { $0.authentications },
        MetricDefinition(
            name: "starling_authorizations_total", help: "Publish and subscribe authorization outcomes, by action and result.",
            kind: .counter, read: { stats in
                stats.authorizations.sorted { $0.key < $1.key }.flatMap { action, results in
                    results.sorted { $0.key < $1.key }.map { ([("action", action), ("result", $0.key)], $0.value) }
                }
            }),
    ]

    /// The help text of metric `name`, or "" for a name outside the catalog.
    public static func help(for name: String) -> String {
        if let help = helpByName[name] { return help }
        return name.hasPrefix(pluginPrefix) ? "Reported by plugins (host->counter_add, host->gauge_set), by plugin." : ""
    }

    /// The prefix of the metrics plugins report: `starling_plugin_<name>{plugin="<plugin>"}`.
    public static let pluginPrefix = "starling_plugin_"

    private static let helpByName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0.help) })
}
