import MQTTCore
import NIOCore
import NIOTestUtils
import StarlingTestSupport
import Testing

@Suite("Encode, then decode")
struct RoundTripTests {
    static let versions: [ProtocolVersion] = [.v3_1, .v3_1_1, .v5]

    @Test("every packet comes back equal, and encodedSize is what encode writes", arguments: versions)
    func roundTrip(version: ProtocolVersion) throws {
        for packet in SamplePackets.all(version) {
            let encoded = encode([packet], version: version)
            #expect(MQTTPacketEncoder.encodedSize(of: packet, version: version) == encoded.readableBytes,
                    "size of \(packet.type)")
            var input = encoded
            var decoder = MQTTPacketDecoder(version: version, expectsConnectFirst: false)
            let decoded = try decoder.next(from: &input)
            #expect(decoded == packet)
            #expect(input.readableBytes == 0)
        }
    }

    @Test("every packet type of the version is covered", arguments: versions)
    func coverage(version: ProtocolVersion) {
        let types = Set(SamplePackets.all(version).map(\.type))
        let expected = version == .v5 ? 15 : 14  // AUTH is 5.0 only
        #expect(types.count == expected)
    }

    @Test("many packets in one buffer, split at every position, give the same packets", arguments: versions)
    func everySplit(version: ProtocolVersion) {
        let packets = SamplePackets.all(version).filter { !isLarge($0) }
        let input = Array(encode(packets, version: version).readableBytesView)
        let (result, disagreeing) = decodeEverySplit(input, decoder: MQTTPacketDecoder(version: version,
                                                                                      expectsConnectFirst: false))
        #expect(result == .success(packets))
        #expect(disagreeing.isEmpty)
    }

    @Test("ByteToMessageDecoderVerifier agrees", arguments: versions)
    func verifier(version: ProtocolVersion) throws {
        let pairs = SamplePackets.all(version).map { (encode([$0], version: version), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            MQTTByteToMessageDecoder(MQTTPacketDecoder(version: version, expectsConnectFirst: false))
        }
    }

    @Test("a server-side decoder takes the version from CONNECT", arguments: versions)
    func serverSide(version: ProtocolVersion) throws {
        let packets = SamplePackets.all(version).filter {
            if case .connect = $0 { return false } else { return true }
        }
        let connect = MQTTPacket.connect(Connect(protocolVersion: version, clientIdentifier: "c"))
        var input = encode([connect] + packets, version: version)
        var decoder = MQTTPacketDecoder()
        var decoded: [MQTTPacket] = []
        while let packet = try decoder.next(from: &input) { decoded.append(packet) }
        #expect(decoded == [connect] + packets)
        #expect(decoder.version == version)
    }

    @Test("PUBLISH header then payload equals the whole PUBLISH", arguments: versions)
    func publishHeader(version: ProtocolVersion) {
        for case .publish(let publish) in SamplePackets.all(version) {
            var header = ByteBuffer()
            MQTTPacketEncoder.encodePublishHeader(publish, version: version, into: &header)
            var joined = header
            joined.writeImmutableBuffer(publish.payload)
            #expect(joined == encode([.publish(publish)], version: version))
            #expect(MQTTPacketEncoder.encodedSize(ofPublish: publish, version: version) == joined.readableBytes)
        }
    }

    @Test("payloads and binary fields are slices of the input, not copies")
    func slices() throws {
        let publish = Publish(topic: "t", payload: buffer(Array(repeating: 1, count: 1000)))
        var input = encode([.publish(publish)], version: .v5)
        let inputAddress = input.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        var decoder = MQTTPacketDecoder(version: .v5, expectsConnectFirst: false)
        guard case .publish(let decoded) = try decoder.next(from: &input) else {
            Issue.record("not a PUBLISH")
            return
        }
        let payloadAddress = decoded.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        // Fixed header 30 EC 07, topic 00 01 74, empty property list 00, then the payload.
        #expect(payloadAddress == inputAddress + 7)
    }

    private func isLarge(_ packet: MQTTPacket) -> Bool {
        if case .publish(let publish) = packet { return publish.payload.readableBytes > 1000 }
        return false
    }
}

@Suite("Encoder output")
struct EncoderTests {
    func bytes(_ packet: MQTTPacket, _ version: ProtocolVersion) -> [UInt8] {
        Array(encode([packet], version: version).readableBytesView)
    }

    @Test func knownBytes() {
        #expect(bytes(.connect(Connect(protocolVersion: .v3_1_1, keepAlive: 60, clientIdentifier: "c")), .v3_1_1)
            == [0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, 0x63])
        #expect(bytes(.connect(Connect(protocolVersion: .v3_1, keepAlive: 60, clientIdentifier: "c")), .v3_1)
            == [0x10, 0x0F, 0x00, 0x06] + Array("MQIsdp".utf8) + [0x03, 0x02, 0x00, 0x3C, 0x00, 0x01, 0x63])
        #expect(bytes(.connect(Connect(protocolVersion: .v5, keepAlive: 60, clientIdentifier: "c")), .v5)
            == [0x10, 0x0E, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x01, 0x63])
        #expect(bytes(.publish(Publish(topic: "a/b", payload: buffer("hi"))), .v3_1_1)
            == [0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x68, 0x69])
        #expect(bytes(.publish(Publish(topic: "a", payload: buffer(""), qos: .exactlyOnce, retain: true, dup: true,
                                       packetIdentifier: 0x0102)), .v5)
            == [0x3D, 0x06, 0x00, 0x01, 0x61, 0x01, 0x02, 0x00])
        #expect(bytes(.pingreq, .v5) == [0xC0, 0x00])
        #expect(bytes(.pingresp, .v3_1_1) == [0xD0, 0x00])
        #expect(bytes(.pubrel(PublishAck(packetIdentifier: 1)), .v3_1_1) == [0x62, 0x02, 0x00, 0x01])
    }

    @Test("5.0 short forms: success without properties leaves out reason code and properties")
    func shortForms() {
        #expect(bytes(.puback(PublishAck(packetIdentifier: 1)), .v5) == [0x40, 0x02, 0x00, 0x01])
        #expect(bytes(.puback(PublishAck(packetIdentifier: 1, reasonCode: .noMatchingSubscribers)), .v5)
            == [0x40, 0x03, 0x00, 0x01, 0x10])
        #expect(bytes(.pubcomp(PublishAck(packetIdentifier: 1, properties: [.reasonString("r")])), .v5)
            == [0x70, 0x08, 0x00, 0x01, 0x00, 0x04, 0x1F, 0x00, 0x01, 0x72])
        #expect(bytes(.disconnect(Disconnect()), .v5) == [0xE0, 0x00])
        #expect(bytes(.disconnect(Disconnect(reasonCode: .sessionTakenOver)), .v5) == [0xE0, 0x01, 0x8E])
        #expect(bytes(.auth(Auth()), .v5) == [0xF0, 0x00])
    }

    @Test("3.1.1 leaves out what it does not have")
    func v311Omissions() {
        #expect(bytes(.puback(PublishAck(packetIdentifier: 1, reasonCode: .quotaExceeded,
                                         properties: [.reasonString("r")])), .v3_1_1) == [0x40, 0x02, 0x00, 0x01])
        #expect(bytes(.disconnect(Disconnect(reasonCode: .serverShuttingDown)), .v3_1_1) == [0xE0, 0x00])
        #expect(bytes(.unsuback(UnsubAck(packetIdentifier: 2, reasonCodes: [.success])), .v3_1_1)
            == [0xB0, 0x02, 0x00, 0x02])
        #expect(bytes(.suback(SubAck(packetIdentifier: 3, reasonCodes: [.grantedQoS1, .notAuthorized,
                                                                         .topicFilterInvalid])), .v3_1_1)
            == [0x90, 0x05, 0x00, 0x03, 0x01, 0x80, 0x80])
        #expect(bytes(.connack(ConnAck(reasonCode: .badUserNameOrPassword)), .v3_1_1) == [0x20, 0x02, 0x00, 0x04])
        #expect(bytes(.connack(ConnAck(reasonCode: .serverBusy)), .v3_1_1) == [0x20, 0x02, 0x00, 0x03])
        #expect(bytes(.subscribe(Subscribe(packetIdentifier: 1, subscriptions: [
            TopicSubscription(filter: "a", qos: .atLeastOnce, noLocal: true, retainHandling: .doNotSend),
        ])), .v3_1_1) == [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01])
    }

    @Test("remaining length grows to 2, 3 and 4 bytes at the right sizes")
    func remainingLengthSizes() {
        for (payloadSize, headerBytes) in [(123, 2), (124, 3), (16_379, 3), (16_380, 4), (2_097_147, 4),
                                           (2_097_148, 5)] {
            // Topic "t" (3 bytes) + empty property list (1 byte) + payload.
            let publish = Publish(topic: "t", payload: ByteBuffer(repeating: 0, count: payloadSize))
            let size = MQTTPacketEncoder.encodedSize(ofPublish: publish, version: .v5)
            #expect(size == headerBytes + 4 + payloadSize, "payload \(payloadSize)")
        }
    }
}
