import NIOCore
import NIOHTTP1

/// Reads a request's head and body parts into one `AdminRequest`. A body over `maxBodySize`
/// (by its Content-Length, or once its chunks pass the limit) is answered 413 at once; the rest of
/// that body is read and dropped, and the connection closed at its end (closing while the client
/// still sends would reset the connection and could lose the answer), or after `lingerTime`.
/// `Expect: 100-continue` is answered before the body comes.
final class HTTPRequestCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = AdminRequest
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case collecting(HTTPRequestHead, ByteBuffer)
        /// The request was refused; its remaining parts are dropped.
        case refused
    }

    private let maxBodySize: Int
    private let lingerTime: TimeAmount
    private var state = State.idle

    init(maxBodySize: Int, lingerTime: TimeAmount = .seconds(10)) {
        self.maxBodySize = maxBodySize
        self.lingerTime = lingerTime
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), _):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
                refuse(context: context, version: head.version)
                return
            }
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                                      promise: nil)
            }
            state = .collecting(head, context.channel.allocator.buffer(capacity: 0))
        case (.body(var chunk), .collecting(let head, var body)):
            guard body.readableBytes + chunk.readableBytes <= maxBodySize else {
                refuse(context: context, version: head.version)
                return
            }
            state = .idle  // let `body` be uniquely referenced while it grows
            body.writeBuffer(&chunk)
            state = .collecting(head, body)
        case (.end, .collecting(let head, let body)):
            state = .idle
            do {
                let (path, query) = try AdminRequest.split(target: head.uri)
                var request = AdminRequest(method: head.method, path: path, query: query, headers: head.headers,
                                           body: body, remoteAddress: context.channel.remoteAddress)
                request.version = head.version
                request.keepAlive = head.isKeepAlive
                context.fireChannelRead(wrapInboundOut(request))
            } catch {
                AdminResponseWriter.write(.error(error), version: head.version,
                                          connection: head.isKeepAlive ? .keepAlive : .close, context: context)
            }
        case (.end, .refused):
            context.close(promise: nil)
        case (.body, _), (.end, _):
            break
        }
    }

    /// Answers 413 with `Connection: close`; the connection closes at the request's end.
    private func refuse(context: ChannelHandlerContext, version: HTTPVersion) {
        state = .refused
        let error = APIError(.payloadTooLarge, code: "PAYLOAD_TOO_LARGE",
                             "the request body is larger than \(maxBodySize) bytes")
        AdminResponseWriter.write(.error(error), version: version, connection: .closeLater, context: context)
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: lingerTime) { channel.close(promise: nil) }
    }
}
