import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for the management API (`starling ctl`, tests): one request per
/// connection, bounded connect and request times, failures as `AdminClientError` one-liners.
public struct AdminClient: Sendable {
    /// The node's API address.
    public var host: String
    public var port: Int
    /// `KEY` and `SECRET`, sent as HTTP Basic; nil sends none (loopback while no key exists).
    public var credentials: (key: String, secret: String)?
    public var connectTimeout: TimeAmount = .seconds(5)
    /// The whole exchange, from connect to the last byte of the answer.
    public var requestTimeout: TimeAmount = .seconds(30)
    /// HTTPS: how the connection is secured; nil speaks plain HTTP.
    public var tls: AdminClientTLS?

    public init(host: String, port: Int, credentials: (key: String, secret: String)? = nil) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// `HOST:PORT`, as messages name the node (`[::1]:18083` for IPv6), behind `https://` over TLS.
    public var address: String {
        let hostPort = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return tls == nil ? hostPort : "https://\(hostPort)"
    }

    /// Sends one request and returns the answer, whatever its status.
    /// - Parameters:
    ///   - target: the path and query, e.g. `/api/v1/clients?limit=10`.
    ///   - body: sent as `application/json` when given.
    public func send(_ method: HTTPMethod, _ target: String, body: [UInt8]? = nil,
                     headers extra: HTTPHeaders = HTTPHeaders()) async throws(AdminClientError) -> AdminClientResponse {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: AdminClientResponse.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(connectTimeout)
                .channelInitializer { [host, tls] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try tls?.secure(channel, host)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            promise.fail(error)
            throw .unreachable(address: address, reason: Self.describe(error, connectTimeout: connectTimeout))
        }
        let timeout = channel.eventLoop.scheduleTask(in: requestTimeout) {
            promise.fail(AdminClientError.timedOut(address: address, after: requestTimeout))
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: address)
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Accept", value: "application/json")
        if let credentials {
            let token = Data("\(credentials.key):\(credentials.secret)".utf8).base64EncodedString()
            head.headers.add(name: "Authorization", value: "Basic \(token)")
        }
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: "\(body.count)")
        }
        head.headers.add(contentsOf: extra)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        do {
            let response = try await promise.futureResult.get()
            channel.close(promise: nil)
            return response
        } catch let error as AdminClientError {
            throw error
        } catch {
            channel.close(promise: nil)
            if let tls, let failure = tls.describe(error) {
                throw .failed(address: address, reason: "TLS: \(failure)")
            }
            if tls == nil, error as? ChannelError == .eof {
                throw .failed(address: address, reason: "the node closed the connection without answering (does its API serve HTTPS? then use --api https://HOST:PORT)")
            }
            throw .failed(address: address, reason: "\(error)")
        }
    }

    /// A connect failure in a few words: "connection refused", "connection timed out after 5 s" …
    static func describe(_ error: any Error, connectTimeout: TimeAmount) -> String {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error, connectTimeout: connectTimeout) }
            return "cannot resolve host '\(error.host)'"
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "connection timed out after \(connectTimeout.nanoseconds / 1_000_000_000) s"
        }
        if let error = error as? SocketAddressError { return "cannot resolve host: \(error)" }
        return "\(error)"
    }
}

/// How an HTTPS connection is secured; the TLS library stays with the caller.
public struct AdminClientTLS: Sendable {
    /// Puts TLS first in a new connection's pipeline; the second argument is the host dialed,
    /// which the server's certificate must name.
    public var secure: @Sendable (any Channel, String) throws -> Void
    /// A TLS failure in a few words, or nil for an error that is not one.
    public var describe: @Sendable (any Error) -> String?

    public init(secure: @escaping @Sendable (any Channel, String) throws -> Void,
                describe: @escaping @Sendable (any Error) -> String?) {
        self.secure = secure
        self.describe = describe
    }
}

/// The answer to a request.
public struct AdminClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON; nil when it is empty or not JSON.
    public var json: JSONValue? {
        body.isEmpty ? nil : try? JSONDecoder().decode(JSONValue.self, from: Data(body))
    }

    /// The `message` of an error answer (else the body), for a one-line report.
    public var errorMessage: String {
        if case .object(let fields)? = json, case .string(let message)? = fields["message"] { return message }
        return text.isEmpty ? "HTTP \(status.code)" : text
    }
}

/// Why a request got no answer.
public enum AdminClientError: Error, Sendable, CustomStringConvertible {
    /// No connection: refused, timed out, host unknown.
    case unreachable(address: String, reason: String)
    /// Connected, but the answer did not come in time.
    case timedOut(address: String, after: TimeAmount)
    /// Connected, but the exchange broke off.
    case failed(address: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let address, let reason): "cannot reach the node at \(address): \(reason)"
        case .timedOut(let address, let after): "no answer from the node at \(address) within \(after.nanoseconds / 1_000_000_000) s"
        case .failed(let address, let reason): "the exchange with the node at \(address) failed: \(reason)"
        }
    }
}

/// Collects the answer's head and body and completes the promise at its end (or fails it when
/// the connection closes first).
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<AdminClientResponse>
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    init(promise: EventLoopPromise<AdminClientResponse>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            // An interim answer (100 Continue) precedes the real one.
            if received.status.code >= 200 { head = received }
        case .body(let chunk):
            body += chunk.readableBytesView
        case .end:
            guard let head else { return }
            promise.succeed(AdminClientResponse(status: head.status, headers: head.headers, body: body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
