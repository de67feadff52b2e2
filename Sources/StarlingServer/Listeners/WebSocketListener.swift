import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import StarlingKernel

/// MQTT over WebSocket: an HTTP listener that upgrades requests for its path (subprotocol
/// `mqtt`, or the older `mqttv3.1`) and then carries the MQTT byte stream in binary frames.
enum WebSocketListener {
    /// The subprotocols MQTT clients ask for, in our order of preference.
    static let subprotocols = ["mqtt", "mqttv3.1"]

    /// A bootstrap whose connections end up in the same MQTT handler as TCP ones; with `tls`
    /// (a `wss` listener), TLS comes first in each connection's pipeline.
    static func bootstrap(group: EventLoopGroup, broker: Broker, limit: ConnectionLimit, path: String,
                          tls: TLSListenerSetup? = nil) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: ListenerTuning.receiveAllocator)
            .childChannelOption(.writeBufferWaterMark, value: ListenerTuning.writeBufferWaterMark)
            .childChannelInitializer { channel in
                // TLS first; its monitor tells the MQTT handler added after the upgrade what it saw.
                let monitor: NIOLoopBound<TLSHandshakeMonitor>?
                do {
                    monitor = try tls.map { NIOLoopBound(try $0.addHandlers(to: channel), eventLoop: channel.eventLoop) }
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                // A frame carries at most one MQTT packet's worth of bytes in practice; the MQTT
                // decoder enforces the real packet limit.
                let maxFrameSize = max(broker.settings.mqtt.maxPacketSize, 64 * 1024) + 16
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: maxFrameSize,
                    shouldUpgrade: { channel, head in
                        channel.eventLoop.makeSucceededFuture(upgradeHeaders(for: head, path: path))
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            // The HTTP-only responder must not see the WebSocket byte stream.
                            let operations = channel.pipeline.syncOperations
                            let responder = try operations.handler(type: NotWebSocketResponder.self)
                            operations.removeHandler(responder, promise: nil)
                            try operations.addHandler(WebSocketMQTTFramer())
                        }.flatMap {
                            let security = monitor?.value.security
                            return broker.configure(channel: channel, limit: limit, security: security)
                        }
                    })
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
                ).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(NotWebSocketResponder())
                }
            }
    }

    /// The response headers for an upgrade of `head`, or nil to refuse it (wrong path, or
    /// no MQTT subprotocol offered when the client offers any).
    static func upgradeHeaders(for head: HTTPRequestHead, path: String) -> HTTPHeaders? {
        let requestPath = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard requestPath == path else { return nil }
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        var headers = HTTPHeaders()
        if !offered.isEmpty {
            guard let chosen = subprotocols.first(where: { offered.contains($0) }) else { return nil }
            headers.add(name: "Sec-WebSocket-Protocol", value: chosen)
        }
        return headers
    }
}

/// Turns binary WebSocket frames into the MQTT byte stream and MQTT writes into binary frames;
/// answers pings and closes.
final class WebSocketMQTTFramer: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private var closeSent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            sendClose(context: context, code: .normalClosure)
        case .text:
            // MQTT over WebSocket uses binary frames only (MQTT 5.0 section 6).
            sendClose(context: context, code: .unacceptableData)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Answers plain HTTP requests (no upgrade) on a WebSocket listener with 400.
final class NotWebSocketResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = "this port speaks MQTT over WebSocket: upgrade with subprotocol mqtt\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
