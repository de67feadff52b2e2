import Foundation
import Dispatch
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOPosix
import StarlingAdmin
import StarlingCluster
import StarlingKernel
import StarlingStore
import StarlingMetrics
import StarlingPlugins
#if canImport(Glibc)
import Glibc
#endif

/// What runs in the process: the kernel, its listeners, the HTTP API and the cluster membership.
/// `run` keeps one until SIGINT/SIGTERM (SIGHUP reloads the configuration); `start` returns a
/// started one, which `stop()` shuts down gracefully.
public final class BrokerProcess: Sendable {
    /// Starts the node and returns once it has stopped (signal) — or throws when a listener
    /// cannot bind, naming the address.
    /// - Parameters:
    ///   - source: where `config` came from; SIGHUP and `POST /api/v1/reload` read it again.
    ///   - logLevel: the level the process's log handlers follow; a reload sets it.
    public static func run(config: ServerConfig, source: ConfigSource? = nil, logger: Logger,
                           logLevel: LogLevelSetting? = nil) async throws {
        let signals = TerminationSignals(logger: logger)
        let started = NIOLockedValueBox<BrokerProcess?>(nil)
        let hangup = HangupSignal {
            guard let node = started.withLockedValue({ $0 }) else {
                logger.warning("SIGHUP ignored: the node is still starting")
                return
            }
            logger.info("SIGHUP: reloading the configuration")
            _ = try? node.reload()
        }
        let node = try await BrokerProcess.start(config: config, source: source, logger: logger, logLevel: logLevel)
        started.withLockedValue { $0 = node }
        await signals.wait()
        hangup.cancel()
        await node.stop()
    }

    public let broker: Broker
    /// Loads, unloads and reloads plugins at run time.
    public let plugins: PluginManager
    /// The bound listeners with their real addresses (a port of 0 is resolved).
    public let listeners: [(config: ListenerConfig, address: SocketAddress)]
    /// The HTTP API's bound address; nil when `api.enabled` is false.
    public var apiAddress: SocketAddress? { admin?.address }
    /// The HTTP API; nil when `api.enabled` is false.
    public let admin: AdminServer?
    /// The node's cluster membership; nil when no cookie is set.
    public let cluster: ClusterMember?
    private let controller: ProcessController
    private let group: MultiThreadedEventLoopGroup
    private let serverChannels: [Channel]
    private let sys: SysPublisher
    /// The durable store; nil with `storage.backend = "memory"`.
    private let store: SQLiteStore?
    private let logger: Logger

    private init(broker: Broker, plugins: PluginManager, group: MultiThreadedEventLoopGroup, serverChannels: [Channel],
                 listeners: [(config: ListenerConfig, address: SocketAddress)], controller: ProcessController,
                 admin: AdminServer?, cluster: ClusterMember?, sys: SysPublisher, store: SQLiteStore?, logger: Logger) {
        self.cluster = cluster
        self.store = store
        self.broker = broker
        self.plugins = plugins
        self.group = group
        self.serverChannels = serverChannels
        self.listeners = listeners
        self.controller = controller
        self.admin = admin
        self.sys = sys
        self.logger = logger
    }

    /// The configuration in force: the one the node started with, with the live settings of the
    /// last reload.
    public var config: ServerConfig { controller.config }

    /// Reads the configuration again from the node's `ConfigSource` and puts its live settings in
    /// force (as SIGHUP and `POST /api/v1/reload` do).
    /// - Throws: `ReloadError` with the config error, or when the node has no source; nothing
    ///   has changed then.
    public func reload() throws(ReloadError) -> ReloadReport {
        try controller.reload()
    }

    /// Creates the kernel, loads the configured plugins (before any client can connect), binds
    /// every enabled listener, then the HTTP API, and starts the `$SYS` topics. Logs
    /// `listening on HOST:PORT` for each listener and `api listening on HOST:PORT` for the API.
    ///
    /// Throws `NodeStartError` when a listener or the API cannot bind, or (exit status 2) when a TLS
    /// listener's or the cluster links' certificate, key or CA file does not load, or a plugin does not load and
    /// `plugin_loader.on_error` is `stop`.
    /// - Parameters:
    ///   - source: where `config` came from, read again by a reload (none: a reload fails).
    ///   - logLevel: the level the process's log handlers follow, set by a reload.
    public static func start(config: ServerConfig, source: ConfigSource? = nil, logger: Logger,
                             logLevel: LogLevelSetting? = nil) async throws -> BrokerProcess {
        let settings = config.settings
        let loops = settings.eventLoops > 0 ? settings.eventLoops : BrokerSettings.automaticEventLoops
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let broker = Broker(settings: config.resolvedSettings(logger: logger), group: group, logger: logger)
        let plugins = PluginManager(broker: broker, dataDirectory: config.dataDir, brokerVersion: starlingVersion,
                                    logger: logger)
        var channels: [Channel] = []
        var bound: [(config: ListenerConfig, address: SocketAddress)] = []
        var cluster: ClusterMember?
        var store: SQLiteStore?
        let enabled = config.listeners.filter(\.enabled)
        let apiTLS = config.api.enabled && config.api.ssl.isConfigured
        let tlsFailures = TLSHandshakeFailures(listeners: enabled.filter(\.kind.usesTLS).map(\.qualifiedName) + (apiTLS ? ["api"] : []))
        do {
            // Every TLS listener's files are read and its context made before any listener binds.
            var tlsSetups: [String: TLSListenerSetup] = [:]
            for listener in enabled where listener.kind.usesTLS {
                do {
                    tlsSetups[listener.qualifiedName] = try TLSListenerSetup(listener: listener, failures: tlsFailures, logger: logger)
                } catch {
                    throw NodeStartError(message: error.description, exitCode: 2)
                }
            }
            var apiSetup: TLSListenerSetup?
            if apiTLS {
                do {
                    apiSetup = try TLSListenerSetup(api: config.api, failures: tlsFailures, logger: logger)
                } catch {
                    throw NodeStartError(message: error.description, exitCode: 2)
                }
            }
            let clusterTLS = try makeClusterTLS(config)
            // What the store kept is back before any client can connect.
            store = try await openStore(config, broker: broker, logger: logger)
            try await loadPlugins(config, into: plugins, logger: logger)
            for listener in enabled {
                let channel: Channel
                do {
                    let limit = ConnectionLimit(maximum: listener.maxConnections)
                    let tls = tlsSetups[listener.qualifiedName]
                    let bootstrap: ServerBootstrap
                    switch listener.kind {
                    case .tcp, .ssl:
                        bootstrap = ListenerTuning.tcpBootstrap(group: group, broker: broker, limit: limit,
                                                                prepare: tls?.channelSecurer)
                    case .ws, .wss:
                        bootstrap = WebSocketListener.bootstrap(group: group, broker: broker, limit: limit,
                                                                path: listener.path, tls: tls)
                    }
                    channel = try await bootstrap.bind(host: listener.bind, port: listener.port).get()
                } catch {
                    throw NodeStartError(message: "cannot listen on \(listener.bind):\(listener.port) (listener \(listener.qualifiedName)): \(error)")
                }
                channels.append(channel)
                let address = channel.localAddress!
                bound.append((listener, address))
                logger.info("listening on \(listener.bind):\(address.port ?? listener.port)",
                            metadata: ["listener": "\(listener.qualifiedName)", "event_loops": "\(loops)"])
            }
            let controller = ProcessController(
                config: config, source: source, broker: broker,
                listeners: bound.map { listener, address in
                    ListenerDescription(name: listener.qualifiedName, type: listener.kind.rawValue, bind: listener.bind,
                                        port: address.port ?? listener.port, maxConnections: listener.maxConnections)
                },
                tlsContexts: tlsSetups.values.map(\.context) + [apiSetup?.context].compactMap { $0 }
                    + [clusterTLS?.contexts as (any CertificateReloading)?].compactMap { $0 },
                logLevel: logLevel, logger: logger)
            if config.cluster.isEnabled {
                do {
                    cluster = try await ClusterMember.start(name: settings.nodeName, config: config.cluster, linkTLS: clusterTLS,
                                                            broker: broker, group: group, dataDir: config.dataDir, logger: logger)
                } catch {
                    throw NodeStartError(message: "\(error)")
                }
            }
            var admin: AdminServer?
            if config.api.enabled {
                do {
                    admin = try await AdminServer.start(
                        configuration: AdminServer.Configuration(
                            bind: config.api.bind, port: config.api.port, dataDir: config.dataDir,
                            extraRoutes: [prometheusRoute(MetricsExporter(broker: broker), cluster: cluster, tls: tlsFailures)],
                            metrics: cluster.map { [clusterMetrics($0)] } ?? [],
                            plugins: PluginController(manager: plugins), cluster: cluster.map(ClusterController.init),
                            secure: apiSetup.map(\.channelSecurer)),
                        broker: broker, node: controller, group: group, logger: logger)
                } catch {
                    throw NodeStartError(message: "\(error)")
                }
            }
            let sys = SysPublisher(broker: broker, version: starlingVersion)
            sys.start()
            return BrokerProcess(broker: broker, plugins: plugins, group: group, serverChannels: channels, listeners: bound,
                               controller: controller, admin: admin, cluster: cluster, sys: sys, store: store, logger: logger)
        } catch {
            await cluster?.stop()
            for channel in channels { try? await channel.close() }
            await plugins.unloadAll()
            try? await group.shutdownGracefully()
            broker.closeStore()
            store?.close()
            throw error
        }
    }

    /// TLS on the cluster links when the node is clustered and `[cluster.ssl_options]` names a
    /// certificate or key: its files read and checked (exit status 2 when they do not load).
    /// Opens `<data_dir>/store` (unless `storage.backend = "memory"`) and puts back what it kept:
    /// retained messages and sessions; from then on every durable change is written to it. A store
    /// that cannot be used stops start-up with exit status 2.
    private static func openStore(_ config: ServerConfig, broker: Broker, logger: Logger) async throws -> SQLiteStore? {
        let directory = config.dataDir + "/store"
        guard config.storage.backend == .sqlite else {
            if FileManager.default.fileExists(atPath: directory + "/starling.db") {
                logger.notice("storage.backend = \"memory\": nothing survives a restart; the store in \(directory) is left untouched")
            }
            return nil
        }
        let store: SQLiteStore
        do throws(StoreError) {
            store = try SQLiteStore(directory: directory, synchronousFull: config.storage.durability == .sync)
        } catch {
            throw NodeStartError(message: error.description, exitCode: 2)
        }
        do {
            let restored = try await broker.restore(
                from: store, flushInterval: .milliseconds(Int64(config.storage.flushIntervalMilliseconds)),
                durability: config.storage.durability, maxBytes: Int64(config.storage.maxBytes))
            for problem in restored.unreadable { logger.warning("store: cannot read \(problem)") }
            logger.info("store \(store.path): \(restored.retained) retained messages, \(restored.sessions) sessions with \(restored.sessionMessages) messages restored",
                        metadata: ["expired_sessions": "\(restored.expiredSessions)", "expired_messages": "\(restored.expiredMessages)"])
            return store
        } catch {
            broker.closeStore()
            store.close()
            throw NodeStartError(message: "\(error)", exitCode: 2)
        }
    }

    private static func makeClusterTLS(_ config: ServerConfig) throws -> ClusterTLS? {
        guard config.cluster.isEnabled, config.clusterSSL.isConfigured else { return nil }
        do {
            return try ClusterTLS(config.clusterSSL)
        } catch {
            throw NodeStartError(message: error.description, exitCode: 2)
        }
    }

    /// Loads the enabled `[[plugins]]` entries in order; a failure stops start-up or is skipped,
    /// as `plugin_loader.on_error` says.
    private static func loadPlugins(_ config: ServerConfig, into plugins: PluginManager, logger: Logger) async throws {
        for plugin in config.plugins where plugin.enabled {
            do {
                try await plugins.load(path: plugin.path, name: plugin.name, options: plugin.options)
            } catch {
                guard config.pluginLoader.onError == .skip else {
                    throw NodeStartError(message: error.description, exitCode: 2)
                }
                logger.error("\(error.description); skipped (plugin_loader.on_error = skip)")
            }
        }
    }

    /// Stops accepting, tells 5.0 clients the server is shutting down (0x8B), closes every
    /// connection and stops the event loops.
    public func stop() async {
        logger.info("shutting down")
        sys.stop()
        await admin?.stop()
        await cluster?.stop()
        for channel in serverChannels { try? await channel.close() }
        try? await broker.disconnectAll().get()
        // Let the DISCONNECT packets leave before the loops stop.
        try? await Task.sleep(nanoseconds: 100_000_000)
        await plugins.unloadAll()
        try? await group.shutdownGracefully()
        // Nothing changes any more: what is queued is committed.
        broker.closeStore()
        store?.close()
        logger.info("stopped")
    }
}

/// `GET /api/v1/prometheus`: the node's metrics in the Prometheus text format (with the cluster's
/// forward counters when the node is clustered, and the TLS handshake failures when it has a TLS listener).
private func prometheusRoute(_ exporter: MetricsExporter, cluster: ClusterMember?, tls: TLSHandshakeFailures) -> AdminRoute {
    AdminRoute(.GET, "/api/v1/prometheus") { request in
        try request.query.rejectUnknown([])
        var text = exporter.prometheusText()
        if let cluster { text += clusterPrometheusText(cluster) }
        text += tls.prometheusText()
        return .text(text, contentType: MetricsExporter.contentType)
    }
}

/// `starling_cluster_forwarded_out_total`, `…_forwarded_in_total`, `…_forwards_lost_total`, by `peer`.
private func clusterPrometheusText(_ cluster: ClusterMember) -> String {
    let counts = cluster.forwardCounts()
    let series: [(name: String, help: String, value: ((peer: String, out: Int, in: Int, lost: Int)) -> Int)] = [
        ("starling_cluster_forwarded_out_total", "messages forwarded to another node", { $0.out }),
        ("starling_cluster_forwarded_in_total", "messages another node forwarded here", { $0.in }),
        ("starling_cluster_forwards_lost_total", "forwards lost: no live link, a failed write or a full link buffer", { $0.lost }),
    ]
    return series.map { metric in
        prometheusCounter(metric.name, help: metric.help, samples: counts.map { ([("peer", $0.peer)], metric.value($0)) })
    }.joined()
}

/// The cluster's counters for `GET /api/v1/metrics`: forwards out, in and lost, in all and per node.
private func clusterMetrics(_ cluster: ClusterMember) -> MetricsProvider {
    { cluster.counters() }
}

extension ServerConfig {
    /// The kernel's settings with `allowAnonymous` resolved: the explicit setting, or (as in
    /// Mosquitto 2.0) allowed only while every listener is on a loopback address.
    public func resolvedSettings(logger: Logger) -> BrokerSettings {
        var resolved = settings
        if resolved.allowAnonymous == nil {
            resolved.allowAnonymous = isLoopbackOnly()
            if resolved.allowAnonymous == false {
                logger.warning("anonymous clients are refused: a listener is not on a loopback address and mqtt.allow_anonymous is not set")
            }
        }
        return resolved
    }
}

/// A node that could not start, with a message naming the cause.
public struct NodeStartError: Error, CustomStringConvertible {
    public let message: String
    /// The exit status `starling start` ends with: 2 for a plugin or a TLS file that does not load, 1 otherwise.
    public var exitCode: Int32 = 1
    public var description: String { message }
}

/// SIGINT and SIGTERM, caught from the moment this is created (before any listener opens,
/// so an early signal still stops the node gracefully).
final class TerminationSignals: @unchecked Sendable {  // its state under `lock`
    private let lock = NIOLock()
    private var fired = false
    private var continuation: CheckedContinuation<Void, Never>?
    private var sources: [DispatchSourceSignal] = []

    init(logger: Logger) {
        let queue = DispatchQueue(label: "starling.signals")
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [self] in
                logger.info("received signal \(signalNumber)")
                fire()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Returns once a signal has arrived (at once if one already did).
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyFired = lock.withLock {
                if !fired { self.continuation = continuation }
                return fired
            }
            if alreadyFired { continuation.resume() }
        }
    }

    private func fire() {
        let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
            fired = true
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume()
    }
}

/// SIGHUP, caught from the moment this is created until `cancel()`: each one runs `handler`
/// (on a queue of its own, never concurrently with itself).
final class HangupSignal: @unchecked Sendable {  // a dispatch source may be cancelled from any thread
    private let source: DispatchSourceSignal

    init(handler: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "starling.sighup"))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    /// Stops handling SIGHUP (it stays ignored).
    func cancel() {
        source.cancel()
    }
}
