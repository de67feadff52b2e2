import NIOCore
import NIOHTTP1

/// Writes an `AdminResponse` as HTTP/1.1 parts, always with a Content-Length.
enum AdminResponseWriter {
    /// What becomes of the connection after an answer.
    enum Connection {
        /// Stays open for the next request.
        case keepAlive
        /// `Connection: close`, closed once the answer is out.
        case close
        /// `Connection: close`, closed by the caller later (when the request has been read).
        case closeLater
    }

    static func write(_ response: AdminResponse, version: HTTPVersion, connection: Connection,
                      context: ChannelHandlerContext) {
        var head = HTTPResponseHead(version: version, status: response.status, headers: response.headers)
        head.headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
        if connection != .keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        if !response.body.isEmpty {
            let body = context.channel.allocator.buffer(bytes: response.body)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: promise)
        if connection == .close {
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
