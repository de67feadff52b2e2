import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP server on 127.0.0.1 and a free port, for plugins that ask one (auth-http): it
/// records every request and answers with what `respond` says, after the delay it says.
final class TestHTTPServer: @unchecked Sendable {  // state behind `lock`
    struct Request: Sendable {
        let method: String
        /// The path with its query string.
        let uri: String
        let headers: [String: String]
        /// The JSON object of a POST body, each value as text (strings as they are, numbers as digits).
        let fields: [String: String]
    }

    struct Reply: Sendable {
        var status = 200
        var body = ""
        var delay: Duration = .zero

        static func result(_ result: String, after delay: Duration = .zero) -> Reply {
            Reply(status: 200, body: "{\"result\": \"\(result)\"}", delay: delay)
        }
    }

    private let lock = NSLock()
    private var recorded: [Request] = []
    private var connections = 0
    private var responder: @Sendable (Request) -> Reply
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: Channel?

    init(_ respond: @escaping @Sendable (Request) -> Reply) {
        responder = respond
    }

    /// Starts listening; returns the server for chaining.
    func start() async throws -> TestHTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(server: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        lock.withLock { self.channel = channel }
        return self
    }

    var port: Int { lock.withLock { channel?.localAddress?.port ?? 0 } }
    var url: String { "http://127.0.0.1:\(port)" }

    /// The connections clients hold open to the server now.
    var openConnections: Int { lock.withLock { connections } }

    fileprivate func connectionOpened(_ delta: Int) { lock.withLock { connections += delta } }

    /// Every request so far, in arrival order.
    var requests: [Request] { lock.withLock { recorded } }

    func requests(to path: String) -> [Request] { requests.filter { $0.uri.hasPrefix(path) } }

    /// Replaces how the server answers from now on.
    func respond(_ respond: @escaping @Sendable (Request) -> Reply) { lock.withLock { responder = respond } }

    func stop() async {
        let channel = lock.withLock { self.channel }
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    fileprivate func handle(_ request: Request) -> Reply {
        lock.withLock {
            recorded.append(request)
            return responder
        }(request)
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {  // used on its channel's loop only
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: TestHTTPServer
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(server: TestHTTPServer) { self.server = server }

        func channelActive(context: ChannelHandlerContext) {
            server.connectionOpened(1)
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            server.connectionOpened(-1)
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                guard let head else { return }
                var fields: [String: String] = [:]
                if let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] {
                    for (key, value) in object { fields[key] = value as? String ?? "\(value)" }
                } else if let items = URLComponents(string: head.uri)?.queryItems {  // GET: the query string
                    for item in items { fields[item.name] = item.value ?? "" }
                }
                let request = Request(method: head.method.rawValue, uri: head.uri,
                                      headers: Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 }),
                                      fields: fields)
                let reply = server.handle(request)
                let keepAlive = head.isKeepAlive
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(Int64(reply.delay.components.seconds) * 1_000_000_000
                                                                  + reply.delay.components.attoseconds / 1_000_000_000)) {
                    let (handler, context) = loopBound.value
                    handler.write(reply, keepAlive: keepAlive, context: context)
                }
            }
        }

        private func write(_ reply: Reply, keepAlive: Bool, context: ChannelHandlerContext) {
            guard context.channel.isActive else { return }
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(reply.body.utf8.count)")])
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}
