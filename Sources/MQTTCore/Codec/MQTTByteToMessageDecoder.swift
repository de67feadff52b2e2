import NIOCore

/// `MQTTPacketDecoder` as a NIO `ByteToMessageDecoder`: put it in a `ByteToMessageHandler` and the pipeline
/// receives `MQTTPacket`s. Decoding faults are fired as `MQTTProtocolError`s through `errorCaught`.
public struct MQTTByteToMessageDecoder: ByteToMessageDecoder {
    public typealias InboundOut = MQTTPacket
    public var decoder: MQTTPacketDecoder

    public init(_ decoder: MQTTPacketDecoder) { self.decoder = decoder }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try decoder.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(packet))
        return .continue
    }

    /// Bytes of an incomplete packet left at end of input are dropped.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}
