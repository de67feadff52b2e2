@testable import MQTTCore
import NIOCore

/// Builds test input: a fixed header byte, then the remaining length, then the body fields.
func packet(_ header: UInt8, _ fields: [UInt8]...) -> [UInt8] {
    let body = fields.flatMap { $0 }
    var bytes = ByteBuffer(integer: header)
    VariableByteInteger.write(body.count, into: &bytes)
    bytes.writeBytes(body)
    return Array(bytes.readableBytesView)
}

/// An MQTT UTF-8 string field: two-byte length, then the bytes.
func str(_ string: String) -> [UInt8] { lengthPrefixed(Array(string.utf8)) }

/// A length-prefixed field of raw bytes (binary data, or a string with arbitrary bytes).
func lengthPrefixed(_ raw: [UInt8]) -> [UInt8] { [UInt8(raw.count >> 8), UInt8(raw.count & 0xFF)] + raw }

/// A 5.0 property list: its length (one byte here), then the properties.
func props(_ content: [UInt8]...) -> [UInt8] {
    let content = content.flatMap { $0 }
    precondition(content.count < 128, "test helper only encodes one-byte property lengths")
    return [UInt8(content.count)] + content
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
func buffer(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

/// Feeds `input` to a copy of `decoder` in chunks of the given sizes (then in one chunk for what is left), the
/// way a channel accumulates reads, and returns every packet decoded.
func decodeInChunks(_ input: [UInt8], chunkSizes: [Int], decoder: MQTTPacketDecoder) throws(MQTTProtocolError)
    -> [MQTTPacket]
{
    var decoder = decoder
    var accumulated = ByteBuffer()
    var packets: [MQTTPacket] = []
    var offset = 0
    var sizes = chunkSizes[...]
    while offset < input.count {
        let size = min(sizes.popFirst() ?? input.count, input.count - offset)
        accumulated.writeBytes(input[offset..<offset + size])
        offset += size
        while let packet = try decoder.next(from: &accumulated) { packets.append(packet) }
    }
    return packets
}

/// The outcome of decoding `input` whole, with a list of the splits (byte by byte, and in two at every
/// position) whose outcome differed — empty when every split agrees.
func decodeEverySplit(_ input: [UInt8], decoder: MQTTPacketDecoder)
    -> (result: Result<[MQTTPacket], MQTTProtocolError>, disagreeing: [[Int]])
{
    func attempt(_ chunks: [Int]) -> Result<[MQTTPacket], MQTTProtocolError> {
        Result { () throws(MQTTProtocolError) in try decodeInChunks(input, chunkSizes: chunks, decoder: decoder) }
    }
    let whole = attempt([input.count])
    var splits = [Array(repeating: 1, count: input.count)]
    for first in 1..<max(input.count, 1) { splits.append([first]) }
    return (whole, splits.filter { attempt($0) != whole })
}
