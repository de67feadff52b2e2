import MQTTCore

/// A client lifecycle event, published on `$SYS/brokers/{node}/clients/{clientid}/{name}` with a
/// JSON payload in the EMQX form.
protocol ClientEvent {
    var clientId: String { get }
    /// The last topic level: `connected` or `disconnected`.
    var name: String { get }
    var json: String { get }
}

/// A client completed CONNECT.
struct ClientConnectedEvent: ClientEvent {
    var clientId: String
    var username: String?
    var ipAddress: String?
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    var protocolLevel: UInt8
    var keepAlive: Int
    var cleanStart: Bool
    var connectedAtMilliseconds: Int64

    var name: String { "connected" }

    var json: String {
        var object = JSONObjectWriter()
        object.add("clientid", clientId)
        object.add("username", username)
        object.add("ipaddress", ipAddress)
        object.add("proto_ver", Int(protocolLevel))
        object.add("keepalive", keepAlive)
        object.add("clean_start", cleanStart)
        object.add("connected_at", connectedAtMilliseconds)
        return object.json
    }
}

/// The connection of a connected client ended.
struct ClientDisconnectedEvent: ClientEvent {
    var clientId: String
    var username: String?
    var reason: DisconnectReason
    var disconnectedAtMilliseconds: Int64

    var name: String { "disconnected" }

    var json: String {
        var object = JSONObjectWriter()
        object.add("clientid", clientId)
        object.add("username", username)
        object.add("reason", reason.rawValue)
        object.add("disconnected_at", disconnectedAtMilliseconds)
        return object.json
    }
}

extension Broker {
    /// Publishes `event` to whoever subscribes to it. A client id that would make an invalid
    /// topic name (one holding `+`, `#` or NUL) gets no event.
    func publishClientEvent(_ event: some ClientEvent, from context: LoopContext) {
        let topic = SysTopics.prefix(node: context.settings.nodeName) + "/clients/\(event.clientId)/\(event.name)"
        guard MQTTTopic.isValidName(topic) else { return }
        publishSystem(topic: topic, from: context) { event.json }
    }
}
