import MQTTCore
import NIOCore

/// The checks of a CONNECT that need nothing but the packet and the node's limits: pure, so that
/// they are tested without a channel. A refusal carries the CONNACK code and why (logged, and
/// the reason string of a 5.0 client that asked for problem information).
enum ConnectValidation {
    struct Refusal: Error, Equatable {
        let code: ReasonCode
        let why: String

        init(_ code: ReasonCode, _ why: String) {
            self.code = code
            self.why = why
        }
    }

    /// The CONNECT with the client certificate's identity put in (`mqtt.peer_cert_as_username`,
    /// `mqtt.peer_cert_as_clientid`): the certificate's CN or DN replaces the user name or client id
    /// the client sent; a certificate without that field, or a connection without TLS, leaves the
    /// client's own. `replaced` names what changed, for the debug log.
    static func certificateIdentity(_ connect: Connect, security: TransportSecurity?, limits: MQTTLimits)
        -> (connect: Connect, replaced: [String]) {
        guard let security else { return (connect, []) }
        var connect = connect
        var replaced: [String] = []
        if let username = security.value(of: limits.peerCertAsUsername) {
            replaced.append("username \(connect.username.map { "\"\($0)\"" } ?? "(none)") -> \"\(username)\"")
            connect.username = username
        }
        if let clientId = security.value(of: limits.peerCertAsClientId) {
            replaced.append("client id \"\(connect.clientIdentifier)\" -> \"\(clientId)\"")
            connect.clientIdentifier = clientId
        }
        return (connect, replaced)
    }

    /// The client id to use: the client's, or `assign()` for an empty one where the protocol
    /// allows it (5.0, or 3.1.1 with clean session); no longer than `maxClientIdLength` bytes.
    static func clientId(_ connect: Connect, limits: MQTTLimits, assign: () -> String) -> Result<String, Refusal> {
        var clientId = connect.clientIdentifier
        if clientId.isEmpty {
            guard connect.protocolVersion == .v5 || (connect.protocolVersion == .v3_1_1 && connect.cleanStart) else {
                return .failure(Refusal(.clientIdentifierNotValid, "empty client id without clean session"))
            }
            clientId = assign()
        }
        guard clientId.utf8.count <= limits.maxClientIdLength else {
            return .failure(Refusal(.clientIdentifierNotValid, "client id longer than \(limits.maxClientIdLength) bytes"))
        }
        return .success(clientId)
    }

    /// The CONNECT's will checked against the node's limits, as the message to publish (nil: none).
    static func will(_ will: Will?, limits: MQTTLimits, publisherId: String, username: String?,
                     now: @autoclosure () -> NIODeadline) -> Result<LastWill?, Refusal> {
        guard let will else { return .success(nil) }
        guard will.qos.rawValue <= limits.maxQoS else {
            return .failure(Refusal(.qosNotSupported, "will QoS \(will.qos) above the maximum \(limits.maxQoS)"))
        }
        guard !will.retain || limits.retainAvailable else {
            return .failure(Refusal(.retainNotSupported, "retained will but retain is not available"))
        }
        guard MQTTTopic.isValidName(will.topic), limits.allowsTopic(will.topic) else {
            return .failure(Refusal(.topicNameInvalid, "invalid will topic"))
        }
        if will.properties.payloadFormatIndicator == 1, !UTF8Validation.isValid(will.payload) {
            return .failure(Refusal(.payloadFormatInvalid, "will payload is not UTF-8 as its format indicator says"))
        }
        let asPublish = Publish(topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain,
                                properties: will.properties)
        let message = Message(publish: asPublish, topic: will.topic, publisherId: publisherId,
                              publisherUsername: username, now: now())
        return .success(LastWill(message: message, delay: will.properties.willDelayInterval ?? 0))
    }
}

extension MQTTLimits {
    /// Whether `topic` is within the node's topic length and depth limits.
    @inline(__always)
    func allowsTopic(_ topic: String) -> Bool {
        topic.utf8.count <= maxTopicLength && MQTTTopic.levelCount(topic) <= maxTopicLevels
    }
}
