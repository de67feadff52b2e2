import NIOCore
import NIOHTTP1

/// Runs each collected request through the access check and the router in a task (handlers are
/// async and may wait on the kernel), then writes the answer back on the channel's loop.
final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = AdminRequest
    typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (AdminRequest) async -> AdminResponse

    init(respond: @escaping @Sendable (AdminRequest) async -> AdminResponse) {
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        let (version, keepAlive) = (request.version, request.keepAlive)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let respond = self.respond
        Task {
            let response = await respond(request)
            bound.eventLoop.execute {
                // The client may have gone while the handler ran.
                guard bound.value.channel.isActive else { return }
                AdminResponseWriter.write(response, version: version, connection: keepAlive ? .keepAlive : .close,
                                          context: bound.value)
            }
        }
    }
}
