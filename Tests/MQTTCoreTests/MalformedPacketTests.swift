import MQTTCore
import NIOCore
import Testing

/// One malformed input and the exact fault it must produce.
struct MalformedCase: CustomTestStringConvertible, Sendable {
    let name: String
    let decoder: MQTTPacketDecoder
    let bytes: [UInt8]
    let kind: MQTTProtocolError.Kind
    let reasonCode: ReasonCode

    init(_ name: String, _ decoder: MQTTPacketDecoder, _ bytes: [UInt8], _ kind: MQTTProtocolError.Kind,
         _ reasonCode: ReasonCode) {
        self.name = name
        self.decoder = decoder
        self.bytes = bytes
        self.kind = kind
        self.reasonCode = reasonCode
    }

    var testDescription: String { name }
}

/// A server before CONNECT.
private let server = MQTTPacketDecoder()
/// A server after a 5.0 / 3.1.1 CONNECT.
private let server5 = MQTTPacketDecoder(version: .v5)
private let server4 = MQTTPacketDecoder(version: .v3_1_1)
/// A 5.0 / 3.1.1 client.
private let client5 = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
private let client4 = MQTTPacketDecoder(version: .v3_1_1, expectsConnectFirst: false)

private func connect5(flags: UInt8 = 0x02, properties: [UInt8] = props(), payload: [UInt8] = str("c")) -> [UInt8] {
    packet(0x10, str("MQTT"), [5, flags, 0, 60], properties, payload)
}

private func connect4(flags: UInt8 = 0x02, payload: [UInt8] = str("c")) -> [UInt8] {
    packet(0x10, str("MQTT"), [4, flags, 0, 60], payload)
}

/// A QoS 0 5.0 PUBLISH to `topic` (raw bytes) with `properties`.
private func publish5(topic: [UInt8], properties: [UInt8] = props()) -> [UInt8] {
    packet(0x30, lengthPrefixed(topic), properties, Array("payload".utf8))
}

private let malformedCases: [MalformedCase] = [
    // Fixed header and framing.
    MalformedCase("remaining length of 5 bytes", server5, [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
                  .malformedRemainingLength, .malformedPacket),
    MalformedCase("remaining length not minimally encoded", server5, [0xC0, 0x80, 0x00],
                  .malformedRemainingLength, .malformedPacket),
    MalformedCase("packet larger than the maximum, refused before its bytes arrive",
                  MQTTPacketDecoder(version: .v5, maximumPacketSize: 100), [0x30, 0xC8, 0x01],
                  .packetTooLarge(size: 203, limit: 100), .packetTooLarge),
    MalformedCase("CONNECT larger than the maximum", MQTTPacketDecoder(maximumPacketSize: 10), connect5(),
                  .packetTooLarge(size: 16, limit: 10), .packetTooLarge),
    MalformedCase("packet type 0", server5, [0x00, 0x00], .unknownPacketType(0), .malformedPacket),
    MalformedCase("AUTH in 3.1.1", server4, [0xF0, 0x00], .unknownPacketType(15), .malformedPacket),
    MalformedCase("CONNECT with fixed header flags", server, [0x11] + connect5().dropFirst(),
                  .invalidFixedHeaderFlags(.connect, 1), .malformedPacket),
    MalformedCase("PUBREL with flags 0", server5, [0x60, 0x02, 0x00, 0x01],
                  .invalidFixedHeaderFlags(.pubrel, 0), .malformedPacket),
    MalformedCase("SUBSCRIBE with flags 0", server5, packet(0x80, [0, 1], props(), str("a"), [0]),
                  .invalidFixedHeaderFlags(.subscribe, 0), .malformedPacket),
    MalformedCase("UNSUBSCRIBE with flags 0b0011", server5, packet(0xA3, [0, 1], props(), str("a")),
                  .invalidFixedHeaderFlags(.unsubscribe, 3), .malformedPacket),
    MalformedCase("PINGREQ with flags", server5, [0xC1, 0x00], .invalidFixedHeaderFlags(.pingreq, 1),
                  .malformedPacket),
    MalformedCase("PUBLISH with QoS 3", server5, packet(0x36, str("t"), [0, 1], props()), .invalidQoS(3),
                  .malformedPacket),
    MalformedCase("PUBLISH QoS 0 with DUP", server5, packet(0x38, str("t"), props()),
                  .invalidFixedHeaderFlags(.publish, 8), .malformedPacket),
    MalformedCase("fields past the remaining length (PUBACK of 1 byte)", server5, [0x40, 0x01, 0x00],
                  .truncated(.puback), .malformedPacket),
    MalformedCase("string longer than the packet", server5, packet(0x30, [0, 9], Array("abc".utf8)),
                  .truncated(.publish), .malformedPacket),
    MalformedCase("property list longer than the packet", server5, packet(0x30, str("t"), [5, 0x01]),
                  .truncated(.publish), .malformedPacket),
    MalformedCase("3.1.1 PUBACK with a reason code", server4, [0x40, 0x03, 0x00, 0x01, 0x00],
                  .trailingBytes(.puback), .malformedPacket),
    MalformedCase("PINGREQ with a body", server5, [0xC0, 0x01, 0x00], .trailingBytes(.pingreq), .malformedPacket),
    MalformedCase("3.1.1 DISCONNECT with a body", server4, [0xE0, 0x01, 0x00], .trailingBytes(.disconnect),
                  .malformedPacket),
    MalformedCase("CONNECT with bytes after the password", server,
                  packet(0x10, str("MQTT"), [4, 0xC2, 0, 60], str("c"), str("u"), lengthPrefixed([1]), [0xFF]),
                  .trailingBytes(.connect), .malformedPacket),

    // Strings.
    MalformedCase("topic with invalid UTF-8", server5, publish5(topic: [0xC3, 0x28]), .invalidUTF8,
                  .malformedPacket),
    MalformedCase("topic with an encoded surrogate (ED A0 80)", server5, publish5(topic: [0x61, 0xED, 0xA0, 0x80]),
                  .invalidUTF8, .malformedPacket),
    MalformedCase("topic with an overlong encoding (C0 AF)", server5, publish5(topic: [0xC0, 0xAF]), .invalidUTF8,
                  .malformedPacket),
    MalformedCase("topic with U+0000", server5, publish5(topic: [0x61, 0x00, 0x62]), .nullCharacter,
                  .malformedPacket),
    MalformedCase("U+0000 in the second 8-byte word of a topic", server5,
                  publish5(topic: Array("abcdefghijklmno".utf8) + [0x00]), .nullCharacter, .malformedPacket),
    MalformedCase("U+0000 after the last whole 8-byte word", server5,
                  publish5(topic: Array("abcdefgh".utf8) + [0x00, 0x61]), .nullCharacter, .malformedPacket),
    MalformedCase("surrogate after 8 ASCII bytes", server5,
                  publish5(topic: Array("abcdefgh".utf8) + [0xED, 0xA0, 0x80]), .invalidUTF8, .malformedPacket),
    MalformedCase("lone continuation byte 0x80", server5, publish5(topic: [0x61, 0x80, 0x62]), .invalidUTF8,
                  .malformedPacket),
    MalformedCase("truncated multi-byte sequence at the end", server5, publish5(topic: [0x61, 0xE2, 0x9C]),
                  .invalidUTF8, .malformedPacket),
    MalformedCase("client identifier with invalid UTF-8", server, connect5(payload: lengthPrefixed([0xFF])),
                  .invalidUTF8, .malformedPacket),

    // CONNECT.
    MalformedCase("first packet not CONNECT", server, [0xC0, 0x00], .firstPacketNotConnect(.pingreq),
                  .protocolError),
    MalformedCase("second CONNECT", server5, connect5(), .secondConnect, .protocolError),
    MalformedCase("protocol name MQTX", server, packet(0x10, str("MQTX"), [4, 2, 0, 60], str("c")),
                  .invalidProtocolName("MQTX"), .unsupportedProtocolVersion),
    MalformedCase("protocol level 6", server, packet(0x10, str("MQTT"), [6, 2, 0, 60], str("c")),
                  .unsupportedProtocolVersion(6), .unsupportedProtocolVersion),
    MalformedCase("MQIsdp with level 4", server, packet(0x10, str("MQIsdp"), [4, 2, 0, 60], str("c")),
                  .unsupportedProtocolVersion(4), .unsupportedProtocolVersion),
    MalformedCase("MQTT with level 3", server, packet(0x10, str("MQTT"), [3, 2, 0, 60], str("c")),
                  .unsupportedProtocolVersion(3), .unsupportedProtocolVersion),
    MalformedCase("reserved CONNECT flag", server, connect4(flags: 0x03), .reservedConnectFlagSet, .malformedPacket),
    MalformedCase("will QoS without will flag", server, connect4(flags: 0x0A), .invalidWillFlags, .malformedPacket),
    MalformedCase("will retain without will flag", server, connect5(flags: 0x22), .invalidWillFlags,
                  .malformedPacket),
    MalformedCase("will QoS 3", server, connect4(flags: 0x1E, payload: str("c") + str("w") + str("m")),
                  .invalidQoS(3), .malformedPacket),
    MalformedCase("3.1.1 password without user name", server, connect4(flags: 0x42, payload: str("c") + str("p")),
                  .passwordWithoutUsername, .malformedPacket),
    MalformedCase("will topic with a wildcard", server, connect4(flags: 0x06, payload: str("c") + str("w/#") + str("m")),
                  .invalidTopicName("w/#"), .topicNameInvalid),
    MalformedCase("empty will topic", server, connect4(flags: 0x06, payload: str("c") + str("") + str("m")),
                  .invalidTopicName(""), .topicNameInvalid),

    // 5.0 properties.
    MalformedCase("duplicate Session Expiry Interval", server,
                  connect5(properties: props([0x11, 0, 0, 0, 1], [0x11, 0, 0, 0, 2])),
                  .duplicateProperty(0x11), .protocolError),
    MalformedCase("Topic Alias in CONNECT", server, connect5(properties: props([0x23, 0, 1])),
                  .propertyNotAllowed(0x23, .connect), .malformedPacket),
    MalformedCase("Payload Format Indicator in PUBACK", client5, packet(0x40, [0, 1], [0x00], props([0x01, 1])),
                  .propertyNotAllowed(0x01, .puback), .malformedPacket),
    MalformedCase("Session Expiry Interval in will properties", server,
                  connect5(flags: 0x06, payload: str("c") + props([0x11, 0, 0, 0, 1]) + str("w") + str("m")),
                  .propertyNotAllowedInWill(0x11), .malformedPacket),
    MalformedCase("unknown property 0x05", server, connect5(properties: props([0x05, 0])), .unknownProperty(0x05),
                  .malformedPacket),
    MalformedCase("Receive Maximum 0", server, connect5(properties: props([0x21, 0, 0])),
                  .invalidPropertyValue(0x21), .protocolError),
    MalformedCase("Maximum Packet Size 0", server, connect5(properties: props([0x27, 0, 0, 0, 0])),
                  .invalidPropertyValue(0x27), .protocolError),
    MalformedCase("Request Problem Information 2", server, connect5(properties: props([0x17, 2])),
                  .invalidPropertyValue(0x17), .protocolError),
    MalformedCase("Payload Format Indicator 2", server5, publish5(topic: Array("t".utf8), properties: props([0x01, 2])),
                  .invalidPropertyValue(0x01), .protocolError),
    MalformedCase("Topic Alias 0", server5, publish5(topic: Array("t".utf8), properties: props([0x23, 0, 0])),
                  .invalidPropertyValue(0x23), .topicAliasInvalid),
    MalformedCase("Response Topic with a wildcard", server5,
                  publish5(topic: Array("t".utf8), properties: props([0x08], str("r/+"))),
                  .invalidPropertyValue(0x08), .protocolError),
    MalformedCase("Maximum QoS 2 in CONNACK", client5, packet(0x20, [0, 0], props([0x24, 2])),
                  .invalidPropertyValue(0x24), .protocolError),
    MalformedCase("Subscription Identifier 0", server5, packet(0x82, [0, 1], props([0x0B, 0]), str("a"), [0]),
                  .invalidPropertyValue(0x0B), .protocolError),
    MalformedCase("two Subscription Identifiers in SUBSCRIBE", server5,
                  packet(0x82, [0, 1], props([0x0B, 1], [0x0B, 2]), str("a"), [0]),
                  .duplicateProperty(0x0B), .protocolError),
    MalformedCase("Subscription Identifier of 5 bytes", server5,
                  packet(0x82, [0, 1], props([0x0B, 0x80, 0x80, 0x80, 0x80, 0x01]), str("a"), [0]),
                  .malformedVariableByteInteger, .malformedPacket),
    MalformedCase("Authentication Data without Method", server, connect5(properties: props([0x16], lengthPrefixed([1]))),
                  .authenticationDataWithoutMethod, .protocolError),

    // Reason codes.
    MalformedCase("PUBACK reason code 0x05", client5, [0x40, 0x03, 0x00, 0x01, 0x05],
                  .invalidReasonCode(0x05, .puback), .malformedPacket),
    MalformedCase("PUBREL reason code 0x10", server5, [0x62, 0x03, 0x00, 0x01, 0x10],
                  .invalidReasonCode(0x10, .pubrel), .malformedPacket),
    MalformedCase("DISCONNECT reason code 0x18", server5, [0xE0, 0x01, 0x18],
                  .invalidReasonCode(0x18, .disconnect), .malformedPacket),
    MalformedCase("3.1.1 CONNACK return code 6", client4, [0x20, 0x02, 0x00, 0x06],
                  .invalidReasonCode(6, .connack), .malformedPacket),
    MalformedCase("3.1.1 SUBACK return code 3", client4, [0x90, 0x03, 0x00, 0x01, 0x03],
                  .invalidReasonCode(3, .suback), .malformedPacket),
    MalformedCase("CONNACK with reserved acknowledge flags", client5, packet(0x20, [0x02, 0], props()),
                  .reservedConnAckFlagsSet(2), .malformedPacket),
    MalformedCase("UNSUBACK without reason codes", client5, packet(0xB0, [0, 1], props()),
                  .truncated(.unsuback), .malformedPacket),

    // PUBLISH, SUBSCRIBE, UNSUBSCRIBE.
    MalformedCase("PUBLISH QoS 1 with packet identifier 0", server5, packet(0x32, str("t"), [0, 0], props()),
                  .zeroPacketIdentifier(.publish), .malformedPacket),
    MalformedCase("SUBSCRIBE with packet identifier 0", server4, packet(0x82, [0, 0], str("a"), [0]),
                  .zeroPacketIdentifier(.subscribe), .malformedPacket),
    MalformedCase("PUBLISH topic with +", server5, publish5(topic: Array("a/+/c".utf8)),
                  .invalidTopicName("a/+/c"), .topicNameInvalid),
    MalformedCase("3.1.1 PUBLISH topic with #", server4, packet(0x30, str("a/#")), .invalidTopicName("a/#"),
                  .topicNameInvalid),
    MalformedCase("5.0 PUBLISH with empty topic and no alias", server5, publish5(topic: []), .missingTopicName,
                  .protocolError),
    MalformedCase("3.1.1 PUBLISH with empty topic", server4, packet(0x30, str("")), .missingTopicName,
                  .protocolError),
    MalformedCase("SUBSCRIBE without filters", server5, packet(0x82, [0, 1], props()),
                  .noTopicFilters(.subscribe), .protocolError),
    MalformedCase("3.1.1 UNSUBSCRIBE without filters", server4, packet(0xA2, [0, 1]),
                  .noTopicFilters(.unsubscribe), .protocolError),
    MalformedCase("SUBSCRIBE option reserved bit 6", server5, packet(0x82, [0, 1], props(), str("a"), [0x40]),
                  .reservedSubscriptionOptionBitsSet(0x40), .malformedPacket),
    MalformedCase("3.1.1 SUBSCRIBE with No Local", server4, packet(0x82, [0, 1], str("a"), [0x04]),
                  .reservedSubscriptionOptionBitsSet(0x04), .malformedPacket),
    MalformedCase("SUBSCRIBE with QoS 3", server5, packet(0x82, [0, 1], props(), str("a"), [0x03]),
                  .invalidSubscriptionOptions(0x03), .protocolError),
    MalformedCase("SUBSCRIBE with retain handling 3", server5, packet(0x82, [0, 1], props(), str("a"), [0x30]),
                  .invalidSubscriptionOptions(0x30), .protocolError),
    MalformedCase("SUBSCRIBE filter without options byte", server5, packet(0x82, [0, 1], props(), str("a")),
                  .truncated(.subscribe), .malformedPacket),
]

@Suite("Malformed packets")
struct MalformedPacketTests {
    @Test("each input gives its exact fault and reason code, however it is split", arguments: malformedCases)
    func malformed(_ testCase: MalformedCase) {
        let (result, disagreeing) = decodeEverySplit(testCase.bytes, decoder: testCase.decoder)
        guard case .failure(let error) = result else {
            Issue.record("decoded without error: \(result)")
            return
        }
        #expect(error.kind == testCase.kind)
        #expect(error.reasonCode == testCase.reasonCode)
        #expect(disagreeing.isEmpty, "splits with another outcome: \(disagreeing.prefix(3))")
    }

    @Test func corpusSize() {
        #expect(malformedCases.count >= 40)
    }

    @Test("an incomplete packet leaves the buffer untouched")
    func incomplete() throws {
        let whole = connect5()
        for length in 0..<whole.count {
            var decoder = MQTTPacketDecoder()
            var input = buffer(Array(whole.prefix(length)))
            let before = input
            #expect(try decoder.next(from: &input) == nil)
            #expect(input == before && input.readerIndex == before.readerIndex)
        }
    }

    @Test("the version is known even when the rest of CONNECT is malformed")
    func versionBeforeFault() {
        var decoder = MQTTPacketDecoder()
        var input = buffer(connect5(properties: props([0x21, 0, 0])))
        #expect(throws: MQTTProtocolError(.invalidPropertyValue(0x21))) { try decoder.next(from: &input) }
        #expect(decoder.version == .v5)
    }

    @Test("descriptions name the fault and its values")
    func descriptions() {
        let error = MQTTProtocolError(.packetTooLarge(size: 203, limit: 100))
        #expect(error.description.contains("203") && error.description.contains("100"))
        #expect(error.description.contains("0x95"))
        #expect(MQTTProtocolError(.invalidFixedHeaderFlags(.pubrel, 0)).description.contains("PUBREL"))
        #expect(MQTTProtocolError(.propertyNotAllowed(0x23, .connect)).description.contains("0x23"))
    }
}
