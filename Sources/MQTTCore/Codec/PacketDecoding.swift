import NIOCore

/// The variable header and payload of each packet type (chapter 3 of the 3.1.1 and 5.0 specifications).
/// The caller has checked the fixed header and checks for trailing bytes afterwards.
extension PacketReader {
    /// Every packet type but CONNECT.
    mutating func readPacket(type: PacketType, flags: UInt8, version: ProtocolVersion)
        throws(MQTTProtocolError) -> MQTTPacket
    {
        switch type {
        case .connect: preconditionFailure("CONNECT is decoded by readProtocolVersion and readConnect")
        case .connack: return .connack(try readConnAck(version: version))
        case .publish: return .publish(try readPublish(flags: flags, version: version))
        case .puback: return .puback(try readPublishAck(version: version))
        case .pubrec: return .pubrec(try readPublishAck(version: version))
        case .pubrel: return .pubrel(try readPublishAck(version: version))
        case .pubcomp: return .pubcomp(try readPublishAck(version: version))
        case .subscribe: return .subscribe(try readSubscribe(version: version))
        case .suback: return .suback(try readSubAck(version: version))
        case .unsubscribe: return .unsubscribe(try readUnsubscribe(version: version))
        case .unsuback: return .unsuback(try readUnsubAck(version: version))
        case .pingreq: return .pingreq
        case .pingresp: return .pingresp
        case .disconnect:
            let (reasonCode, properties) = try readOptionalReasonAndProperties(version: version)
            return .disconnect(Disconnect(reasonCode: reasonCode, properties: properties))
        case .auth:
            let (reasonCode, properties) = try readOptionalReasonAndProperties(version: version)
            return .auth(Auth(reasonCode: reasonCode, properties: properties))
        }
    }

    /// Protocol name and level, the start of CONNECT.
    mutating func readProtocolVersion() throws(MQTTProtocolError) -> ProtocolVersion {
        let name = try readString()
        let level = try readByte()
        switch (name, level) {
        case ("MQTT", 4): return .v3_1_1
        case ("MQTT", 5): return .v5
        case ("MQIsdp", 3): return .v3_1
        case ("MQTT", _), ("MQIsdp", _): throw MQTTProtocolError(.unsupportedProtocolVersion(level))
        default: throw MQTTProtocolError(.invalidProtocolName(name))
        }
    }

    /// The rest of CONNECT, after the protocol level.
    mutating func readConnect(version: ProtocolVersion) throws(MQTTProtocolError) -> Connect {
        let flags = try readByte()
        guard flags & 0x01 == 0 else { throw MQTTProtocolError(.reservedConnectFlagSet) }
        let hasWill = flags & 0x04 != 0
        let willQoS = (flags >> 3) & 0b11
        let willRetain = flags & 0x20 != 0
        let hasPassword = flags & 0x40 != 0
        let hasUsername = flags & 0x80 != 0
        guard hasWill || (willQoS == 0 && !willRetain) else { throw MQTTProtocolError(.invalidWillFlags) }
        guard willQoS != 3 else { throw MQTTProtocolError(.invalidQoS(willQoS)) }
        guard version == .v5 || hasUsername || !hasPassword else {
            throw MQTTProtocolError(.passwordWithoutUsername)
        }
        let keepAlive = try readUInt16()
        let properties = version.hasProperties ? try readProperties() : Properties()
        let clientIdentifier = try readString()
        var will: Will?
        if hasWill {
            let willProperties = version.hasProperties ? try readProperties(will: true) : Properties()
            let topic = try readString()
            guard MQTTTopic.isValidName(topic) else { throw MQTTProtocolError(.invalidTopicName(topic)) }
            will = Will(topic: topic, payload: try readBinary(), qos: QoS(rawValue: willQoS)!, retain: willRetain,
                        properties: willProperties)
        }
        let username = hasUsername ? try readString() : nil
        let password = hasPassword ? try readBinary() : nil
        return Connect(protocolVersion: version, cleanStart: flags & 0x02 != 0, keepAlive: keepAlive,
                       clientIdentifier: clientIdentifier, will: will, username: username, password: password,
                       properties: properties)
    }

    mutating func readConnAck(version: ProtocolVersion) throws(MQTTProtocolError) -> ConnAck {
        let acknowledgeFlags = try readByte()
        guard acknowledgeFlags & 0xFE == 0 else {
            throw MQTTProtocolError(.reservedConnAckFlagsSet(acknowledgeFlags))
        }
        let code = try readByte()
        let reasonCode: ReasonCode
        if version.hasProperties {
            reasonCode = try ReasonCodeRules.validate(code, in: .connack)
        } else {
            guard let mapped = ReasonCode.fromConnectReturnCode(code) else {
                throw MQTTProtocolError(.invalidReasonCode(code, .connack))
            }
            reasonCode = mapped
        }
        let properties = version.hasProperties ? try readProperties() : Properties()
        return ConnAck(sessionPresent: acknowledgeFlags == 1, reasonCode: reasonCode, properties: properties)
    }

    mutating func readPublish(flags: UInt8, version: ProtocolVersion) throws(MQTTProtocolError) -> Publish {
        let qos = QoS(rawValue: (flags >> 1) & 0b11)!  // 3 was refused with the fixed header
        let topic = try readString()
        let packetIdentifier = qos == .atMostOnce ? nil : try readPacketIdentifier()
        let properties = version.hasProperties ? try readProperties() : Properties()
        if topic.isEmpty {
            // 5.0: an empty topic name stands for the one the topic alias names.
            guard properties.topicAlias != nil else { throw MQTTProtocolError(.missingTopicName) }
        } else if !MQTTTopic.isValidName(topic) {
            throw MQTTProtocolError(.invalidTopicName(topic))
        }
        return Publish(topic: topic, payload: readRest(), qos: qos, retain: flags & 0x01 != 0,
                       dup: flags & 0x08 != 0, packetIdentifier: packetIdentifier, properties: properties)
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP. In 5.0 the reason code and the properties may each be left off.
    mutating func readPublishAck(version: ProtocolVersion) throws(MQTTProtocolError) -> PublishAck {
        let packetIdentifier = try readPacketIdentifier()
        let (reasonCode, properties) = try readOptionalReasonAndProperties(version: version)
        return PublishAck(packetIdentifier: packetIdentifier, reasonCode: reasonCode, properties: properties)
    }

    /// 5.0's optional tail of acknowledgements, DISCONNECT and AUTH: a reason code (success when absent), then
    /// properties (none when absent). Before 5.0 neither exists.
    private mutating func readOptionalReasonAndProperties(version: ProtocolVersion)
        throws(MQTTProtocolError) -> (ReasonCode, Properties)
    {
        guard version.hasProperties, !isAtEnd else { return (.success, Properties()) }
        let reasonCode = try ReasonCodeRules.validate(try readByte(), in: type)
        return (reasonCode, isAtEnd ? Properties() : try readProperties())
    }

    mutating func readSubscribe(version: ProtocolVersion) throws(MQTTProtocolError) -> Subscribe {
        let packetIdentifier = try readPacketIdentifier()
        let properties = version.hasProperties ? try readProperties() : Properties()
        var subscriptions: [TopicSubscription] = []
        while !isAtEnd {
            // Filter syntax is the broker's to judge (SUBACK 0x8F per filter), not a fault of the packet.
            let filter = try readString()
            let options = try readByte()
            // Before 5.0 only the QoS bits exist.
            let reservedBits: UInt8 = version.hasProperties ? 0b1100_0000 : 0b1111_1100
            guard options & reservedBits == 0 else {
                throw MQTTProtocolError(.reservedSubscriptionOptionBitsSet(options))
            }
            guard let qos = QoS(rawValue: options & 0b11),
                  let retainHandling = RetainHandling(rawValue: (options >> 4) & 0b11)
            else { throw MQTTProtocolError(.invalidSubscriptionOptions(options)) }
            subscriptions.append(TopicSubscription(filter: filter, qos: qos, noLocal: options & 0x04 != 0,
                                                   retainAsPublished: options & 0x08 != 0,
                                                   retainHandling: retainHandling))
        }
        guard !subscriptions.isEmpty else { throw MQTTProtocolError(.noTopicFilters(.subscribe)) }
        return Subscribe(packetIdentifier: packetIdentifier, subscriptions: subscriptions, properties: properties)
    }

    mutating func readSubAck(version: ProtocolVersion) throws(MQTTProtocolError) -> SubAck {
        let packetIdentifier = try readPacketIdentifier()
        let properties = version.hasProperties ? try readProperties() : Properties()
        let reasonCodes = try readReasonCodeList(version: version)
        return SubAck(packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
    }

    mutating func readUnsubscribe(version: ProtocolVersion) throws(MQTTProtocolError) -> Unsubscribe {
        let packetIdentifier = try readPacketIdentifier()
        let properties = version.hasProperties ? try readProperties() : Properties()
        var filters: [String] = []
        while !isAtEnd { filters.append(try readString()) }
        guard !filters.isEmpty else { throw MQTTProtocolError(.noTopicFilters(.unsubscribe)) }
        return Unsubscribe(packetIdentifier: packetIdentifier, filters: filters, properties: properties)
    }

    /// Before 5.0 UNSUBACK is just the packet identifier.
    mutating func readUnsubAck(version: ProtocolVersion) throws(MQTTProtocolError) -> UnsubAck {
        let packetIdentifier = try readPacketIdentifier()
        guard version.hasProperties else { return UnsubAck(packetIdentifier: packetIdentifier) }
        let properties = try readProperties()
        let reasonCodes = try readReasonCodeList(version: version)
        return UnsubAck(packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
    }

    /// The payload of SUBACK and UNSUBACK: one or more reason codes. 3.1.1 SUBACK failures are 0x80.
    private mutating func readReasonCodeList(version: ProtocolVersion) throws(MQTTProtocolError) -> [ReasonCode] {
        guard !isAtEnd else { throw MQTTProtocolError(.truncated(type)) }
        var reasonCodes: [ReasonCode] = []
        reasonCodes.reserveCapacity(remainingBytes)
        while !isAtEnd {
            let code = try readByte()
            if version.hasProperties {
                reasonCodes.append(try ReasonCodeRules.validate(code, in: type))
            } else {
                guard code <= 2 || code == 0x80 else { throw MQTTProtocolError(.invalidReasonCode(code, type)) }
                reasonCodes.append(ReasonCode(rawValue: code)!)
            }
        }
        return reasonCodes
    }
}

/// Which 5.0 reason codes each packet type may carry (the table in section 2.4 and each packet's section).
enum ReasonCodeRules {
    private static let connack: [ReasonCode] = [
        .unspecifiedError, .malformedPacket, .protocolError, .implementationSpecificError,
        .unsupportedProtocolVersion, .clientIdentifierNotValid, .badUserNameOrPassword, .notAuthorized,
        .serverUnavailable, .serverBusy, .banned, .badAuthenticationMethod, .topicNameInvalid, .packetTooLarge,
        .quotaExceeded, .payloadFormatInvalid, .retainNotSupported, .qosNotSupported, .useAnotherServer,
        .serverMoved, .connectionRateExceeded,
    ]
    private static let pubackPubrec: [ReasonCode] = [
        .noMatchingSubscribers, .unspecifiedError, .implementationSpecificError, .notAuthorized, .topicNameInvalid,
        .packetIdentifierInUse, .quotaExceeded, .payloadFormatInvalid,
    ]
    private static let pubrelPubcomp: [ReasonCode] = [.packetIdentifierNotFound]
    private static let suback: [ReasonCode] = [
        .grantedQoS1, .grantedQoS2, .unspecifiedError, .implementationSpecificError, .notAuthorized,
        .topicFilterInvalid, .packetIdentifierInUse, .quotaExceeded, .sharedSubscriptionsNotSupported,
        .subscriptionIdentifiersNotSupported, .wildcardSubscriptionsNotSupported,
    ]
    private static let unsuback: [ReasonCode] = [
        .noSubscriptionExisted, .unspecifiedError, .implementationSpecificError, .notAuthorized,
        .topicFilterInvalid, .packetIdentifierInUse,
    ]
    private static let disconnect: [ReasonCode] = [
        .disconnectWithWillMessage, .unspecifiedError, .malformedPacket, .protocolError,
        .implementationSpecificError, .notAuthorized, .serverBusy, .serverShuttingDown, .keepAliveTimeout,
        .sessionTakenOver, .topicFilterInvalid, .topicNameInvalid, .receiveMaximumExceeded, .topicAliasInvalid,
        .packetTooLarge, .messageRateTooHigh, .quotaExceeded, .administrativeAction, .payloadFormatInvalid,
        .retainNotSupported, .qosNotSupported, .useAnotherServer, .serverMoved, .sharedSubscriptionsNotSupported,
        .connectionRateExceeded, .maximumConnectTime, .subscriptionIdentifiersNotSupported,
        .wildcardSubscriptionsNotSupported,
    ]
    private static let auth: [ReasonCode] = [.continueAuthentication, .reAuthenticate]

    /// Whether `code` may appear in a packet of `type`. Success (0x00) is valid everywhere a code is.
    static func allows(_ code: ReasonCode, in type: PacketType) -> Bool {
        if code == .success { return true }
        switch type {
        case .connack: return connack.contains(code)
        case .puback, .pubrec: return pubackPubrec.contains(code)
        case .pubrel, .pubcomp: return pubrelPubcomp.contains(code)
        case .suback: return suback.contains(code)
        case .unsuback: return unsuback.contains(code)
        case .disconnect: return disconnect.contains(code)
        case .auth: return auth.contains(code)
        case .connect, .publish, .subscribe, .unsubscribe, .pingreq, .pingresp: return false
        }
    }

    /// The reason code for the byte `code`, if `type` may carry it.
    static func validate(_ code: UInt8, in type: PacketType) throws(MQTTProtocolError) -> ReasonCode {
        guard let reasonCode = ReasonCode(rawValue: code), allows(reasonCode, in: type) else {
            throw MQTTProtocolError(.invalidReasonCode(code, type))
        }
        return reasonCode
    }
}
