import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import StarlingKernel

/// The node's HTTP management API (`/api/v1/…`, JSON in and out, API keys over HTTP Basic).
///
/// Built on NIOHTTP1, which the broker already links, rather than a web framework such as
/// Hummingbird: a dozen routes with JSON bodies need a router of a page and a body collector, and
/// a framework would add its own dependency tree (and build time) to every build of the broker.
public final class AdminServer: Sendable {
    /// The largest request body accepted; a larger one is answered 413.
    public static let maxBodySize = 1 << 20

    /// Where and how the API is served.
    public struct Configuration: Sendable {
        /// The address to bind; while no API key exists a non-loopback address is replaced by
        /// 127.0.0.1 (with a warning in the log).
        public var bind: String
        /// The port to bind; 0 picks a free one.
        public var port: Int
        /// The node's data directory: the API keys live in `<dataDir>/api_keys.json`.
        public var dataDir: String
        /// Routes served in addition to the built-in ones, tried first: a route here with the same
        /// method and path replaces a built-in one (e.g. `GET /api/v1/prometheus`).
        public var extraRoutes: [AdminRoute]
        /// Extra counters merged into `GET /api/v1/metrics`.
        public var metrics: [MetricsProvider]
        /// The node's plugins, for `/api/v1/plugins`; nil serves no plugin routes.
        public var plugins: (any PluginControl)?
        /// The node's cluster membership, for `/api/v1/cluster`; nil: the node has no cookie.
        public var cluster: (any ClusterControl)?
        /// Puts TLS first in an accepted connection's pipeline (the node's `[api.ssl_options]`);
        /// nil serves plain HTTP.
        public var secure: (@Sendable (any Channel) throws -> Void)?

        public init(bind: String = "127.0.0.1", port: Int = 18083, dataDir: String = "data",
                    extraRoutes: [AdminRoute] = [], metrics: [MetricsProvider] = [], plugins: (any PluginControl)? = nil,
                    cluster: (any ClusterControl)? = nil, secure: (@Sendable (any Channel) throws -> Void)? = nil) {
            self.cluster = cluster
            self.secure = secure
            self.bind = bind
            self.port = port
            self.dataDir = dataDir
            self.extraRoutes = extraRoutes
            self.metrics = metrics
            self.plugins = plugins
        }
    }

    /// The bound address (a port of 0 resolved).
    public let address: SocketAddress
    /// The node's API keys.
    public let keys: APIKeyStore
    private let channel: any Channel
    private let sampler: RepeatedTask

    private init(address: SocketAddress, keys: APIKeyStore, channel: any Channel, sampler: RepeatedTask) {
        self.address = address
        self.keys = keys
        self.channel = channel
        self.sampler = sampler
    }

    /// Loads the API keys and binds the API on `group`. Logs `api listening on HOST:PORT` (with
    /// `scheme=https` when it serves TLS).
    /// - Throws: `AdminServerError` naming the key file or the address that failed.
    public static func start(configuration: Configuration, broker: Broker, node: any ProcessControl,
                             group: any EventLoopGroup, logger: Logger) async throws -> AdminServer {
        let keys: APIKeyStore
        do {
            keys = try APIKeyStore(directory: configuration.dataDir)
        } catch {
            throw AdminServerError(description: "\(error)")
        }
        var host = configuration.bind
        if keys.isEmpty {
            if !Loopback.isLoopback(host: host) {
                logger.warning("no API key exists: the API listens on 127.0.0.1 instead of \(host) until one is created (starling ctl apikey create NAME) and the node restarts")
                host = "127.0.0.1"
            } else {
                logger.notice("no API key exists: the API serves loopback clients without a key; create one with `starling ctl apikey create NAME`")
            }
        }
        let context = AdminContext(broker: broker, node: node, keys: keys, peaks: PeakStats(), metrics: configuration.metrics,
                                   plugins: configuration.plugins, cluster: configuration.cluster)
        let router = AdminRouter(routes: configuration.extraRoutes + AdminAPI.routes(context))
        let policy = AccessPolicy(keys: keys)
        let respond: @Sendable (AdminRequest) async -> AdminResponse = { request in
            let response: AdminResponse
            do throws(APIError) {
                try policy.check(request)
                response = await router.route(request)
            } catch {
                response = .error(error)
            }
            logger.debug("api \(request.method) \(request.path) \(response.status.code)",
                         metadata: ["peer": "\(request.remoteAddress.map { "\($0)" } ?? "-")"])
            return response
        }
        let secure = configuration.secure
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try secure?(channel)
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandlers(
                            HTTPRequestCollector(maxBodySize: maxBodySize), AdminRequestHandler(respond: respond))
                    }
                }
                .bind(host: host, port: configuration.port).get()
        } catch {
            throw AdminServerError(description: "cannot listen on \(host):\(configuration.port) (api): \(error)")
        }
        let address = channel.localAddress!
        logger.info("api listening on \(host):\(address.port ?? configuration.port)",
                    metadata: ["scheme": "\(secure == nil ? "http" : "https")"])
        let peaks = context.peaks
        let sampler = group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(5)) { _ in
            peaks.sample(broker)
        }
        return AdminServer(address: address, keys: keys, channel: channel, sampler: sampler)
    }

    /// Stops accepting and closes the listening socket.
    public func stop() async {
        sampler.cancel()
        try? await channel.close()
    }
}

/// The API could not start: its key file is unreadable or its address cannot be bound.
public struct AdminServerError: Error, CustomStringConvertible {
    public let description: String
}

/// Every built-in route.
enum AdminAPI {
    static func routes(_ context: AdminContext) -> [AdminRoute] {
        StatusRoutes.routes(context) + ClientRoutes.routes(context) + RoutingRoutes.routes(context)
            + MessageRoutes.routes(context) + APIKeyRoutes.routes(context) + PluginRoutes.routes(context)
            + ClusterRoutes.routes(context)
    }
}
