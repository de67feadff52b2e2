import MQTTCore
import NIOCore

/// At least one packet of every type each version has; in 5.0 with every property the packet allows,
/// and each short form.
enum SamplePackets {
    static func all(_ version: ProtocolVersion) -> [MQTTPacket] {
        version == .v5 ? v5 : v3(version)
    }

    /// 3.1 and 3.1.1 share one format; only CONNECT's protocol name and level differ.
    static func v3(_ version: ProtocolVersion) -> [MQTTPacket] {
        [
            .connect(Connect(protocolVersion: version, cleanStart: false, keepAlive: 30, clientIdentifier: "client-1",
                             will: Will(topic: "will/topic", payload: buffer("gone"), qos: .exactlyOnce, retain: true),
                             username: "user", password: buffer([0, 1, 2, 255]))),
            .connect(Connect(protocolVersion: version, clientIdentifier: "")),
            .connect(Connect(protocolVersion: version, clientIdentifier: "u", username: "only-user")),
            .connack(ConnAck(sessionPresent: true)),
            .connack(ConnAck(reasonCode: .notAuthorized)),
            .connack(ConnAck(reasonCode: .unsupportedProtocolVersion)),
            .publish(Publish(topic: "a/b", payload: buffer("hello"))),
            .publish(Publish(topic: "a/b/c", payload: buffer(""), qos: .atLeastOnce, retain: true, dup: true,
                             packetIdentifier: 1)),
            .publish(Publish(topic: "ünïcode/✓", payload: buffer(Array(repeating: 0xAB, count: 300)),
                             qos: .exactlyOnce, packetIdentifier: 65535)),
            .puback(PublishAck(packetIdentifier: 1)),
            .pubrec(PublishAck(packetIdentifier: 2)),
            .pubrel(PublishAck(packetIdentifier: 3)),
            .pubcomp(PublishAck(packetIdentifier: 4)),
            .subscribe(Subscribe(packetIdentifier: 5, subscriptions: [
                TopicSubscription(filter: "a/+", qos: .atMostOnce),
                TopicSubscription(filter: "b/#", qos: .atLeastOnce),
                TopicSubscription(filter: "c", qos: .exactlyOnce),
            ])),
            .suback(SubAck(packetIdentifier: 5, reasonCodes: [.success, .grantedQoS1, .grantedQoS2, .unspecifiedError])),
            .unsubscribe(Unsubscribe(packetIdentifier: 6, filters: ["a/+", "b/#"])),
            .unsuback(UnsubAck(packetIdentifier: 6)),
            .pingreq,
            .pingresp,
            .disconnect(Disconnect()),
        ]
    }

    static let userProperties: [Property] = [.userProperty("k", "v1"), .userProperty("k", "v2")]

    static let v5: [MQTTPacket] = [
        .connect(Connect(
            protocolVersion: .v5, cleanStart: false, keepAlive: 30, clientIdentifier: "client-5",
            will: Will(topic: "will/topic", payload: buffer("gone"), qos: .atLeastOnce, retain: true, properties: [
                .payloadFormatIndicator(1), .messageExpiryInterval(10), .contentType("text/plain"),
                .responseTopic("reply/here"), .correlationData(buffer([9, 8, 7])), .willDelayInterval(5),
            ] + Properties(userProperties)),
            username: "user", password: buffer("secret"),
            properties: [
                .sessionExpiryInterval(3600), .authenticationMethod("SCRAM-SHA-1"),
                .authenticationData(buffer([1, 2, 3])), .requestProblemInformation(0),
                .requestResponseInformation(1), .receiveMaximum(10), .topicAliasMaximum(5),
                .maximumPacketSize(1024), .userProperty("name", "value"),
            ])),
        .connect(Connect(protocolVersion: .v5, clientIdentifier: "")),
        .connack(ConnAck(sessionPresent: true, properties: [
            .sessionExpiryInterval(60), .assignedClientIdentifier("auto-1"), .serverKeepAlive(20),
            .authenticationMethod("SCRAM-SHA-1"), .authenticationData(buffer([4])), .responseInformation("resp"),
            .serverReference("other:1883"), .reasonString("welcome"), .receiveMaximum(100),
            .topicAliasMaximum(10), .maximumQoS(1), .retainAvailable(0), .maximumPacketSize(65536),
            .wildcardSubscriptionAvailable(1), .subscriptionIdentifierAvailable(0), .sharedSubscriptionAvailable(1),
        ] + Properties(userProperties))),
        .connack(ConnAck(reasonCode: .badUserNameOrPassword)),
        .publish(Publish(topic: "a/b", payload: buffer("hello"))),
        .publish(Publish(topic: "long/ascii/topic/crossing/words/ünï/✓/😀", payload: buffer("x"))),
        .publish(Publish(topic: "a/b", payload: buffer(Array(repeating: 7, count: 20_000)), qos: .exactlyOnce,
                         retain: true, dup: true, packetIdentifier: 7, properties: [
            .payloadFormatIndicator(0), .messageExpiryInterval(99), .topicAlias(3), .responseTopic("reply"),
            .correlationData(buffer("corr")), .subscriptionIdentifier(1), .subscriptionIdentifier(268_435_455),
            .contentType("application/octet-stream"),
        ] + Properties(userProperties))),
        .publish(Publish(topic: "", payload: buffer("aliased"), qos: .atLeastOnce, packetIdentifier: 8,
                         properties: [.topicAlias(3)])),
        .puback(PublishAck(packetIdentifier: 1)),
        .puback(PublishAck(packetIdentifier: 2, reasonCode: .noMatchingSubscribers)),
        .puback(PublishAck(packetIdentifier: 3, reasonCode: .quotaExceeded,
                           properties: [.reasonString("full")] + Properties(userProperties))),
        .pubrec(PublishAck(packetIdentifier: 4)),
        .pubrec(PublishAck(packetIdentifier: 5, reasonCode: .payloadFormatInvalid, properties: [.reasonString("x")])),
        .pubrel(PublishAck(packetIdentifier: 6)),
        .pubrel(PublishAck(packetIdentifier: 7, reasonCode: .packetIdentifierNotFound)),
        .pubcomp(PublishAck(packetIdentifier: 8)),
        .pubcomp(PublishAck(packetIdentifier: 9, properties: [.reasonString("done")])),
        .subscribe(Subscribe(packetIdentifier: 10, subscriptions: [
            TopicSubscription(filter: "a/+", qos: .atMostOnce),
            TopicSubscription(filter: "$share/g/b/#", qos: .atLeastOnce, noLocal: true),
            TopicSubscription(filter: "c", qos: .exactlyOnce, retainAsPublished: true, retainHandling: .doNotSend),
            TopicSubscription(filter: "d", retainHandling: .sendOnNewSubscribe),
        ], properties: [.subscriptionIdentifier(42)] + Properties(userProperties))),
        .suback(SubAck(packetIdentifier: 10, reasonCodes: [
            .success, .grantedQoS1, .grantedQoS2, .topicFilterInvalid, .sharedSubscriptionsNotSupported,
            .wildcardSubscriptionsNotSupported,
        ], properties: [.reasonString("partly")] + Properties(userProperties))),
        .unsubscribe(Unsubscribe(packetIdentifier: 11, filters: ["a/+", "b/#"], properties: Properties(userProperties))),
        .unsuback(UnsubAck(packetIdentifier: 11, reasonCodes: [.success, .noSubscriptionExisted],
                           properties: [.reasonString("ok")] + Properties(userProperties))),
        .pingreq,
        .pingresp,
        .disconnect(Disconnect()),
        .disconnect(Disconnect(reasonCode: .disconnectWithWillMessage)),
        .disconnect(Disconnect(reasonCode: .serverMoved, properties: [
            .sessionExpiryInterval(0), .reasonString("bye"), .serverReference("elsewhere:1883"),
        ] + Properties(userProperties))),
        .auth(Auth()),
        .auth(Auth(reasonCode: .continueAuthentication, properties: [
            .authenticationMethod("SCRAM-SHA-1"), .authenticationData(buffer([5, 6])), .reasonString("more"),
        ] + Properties(userProperties))),
    ]
}

extension Properties {
    static func + (lhs: Properties, rhs: Properties) -> Properties { Properties(lhs.list + rhs.list) }
}
