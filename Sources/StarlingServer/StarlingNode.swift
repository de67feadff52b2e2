import Dispatch
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOPosix
import StarlingKernel
import StarlingPlugins
#if canImport(Glibc)
import Glibc
#endif

/// One running Starling node: the kernel, its listeners, and a graceful stop on SIGINT/SIGTERM.
public enum StarlingNode {
    /// Starts the node and returns once it has stopped (signal) — or throws when a listener
    /// cannot bind, naming the address.
    public static func run(config: ServerConfig, logger: Logger) async throws {
        let signals = TerminationSignals(logger: logger)
        let node = try await RunningNode.start(config: config, logger: logger)
        await signals.wait()
        await node.stop()
    }
}

/// A started node; `stop()` shuts it down gracefully.
public final class RunningNode: Sendable {
    public let broker: Broker
    /// Loads, unloads and reloads plugins at run time.
    public let plugins: PluginManager
    /// The bound listeners with their real addresses (a port of 0 is resolved).
    public let listeners: [(config: ListenerConfig, address: SocketAddress)]
    private let group: MultiThreadedEventLoopGroup
    private let serverChannels: [Channel]
    private let sys: SysPublisher
    private let logger: Logger

    private init(broker: Broker, plugins: PluginManager, group: MultiThreadedEventLoopGroup, serverChannels: [Channel],
                 listeners: [(config: ListenerConfig, address: SocketAddress)], sys: SysPublisher, logger: Logger) {
        self.broker = broker
        self.plugins = plugins
        self.group = group
        self.serverChannels = serverChannels
        self.listeners = listeners
        self.sys = sys
        self.logger = logger
    }

    /// Creates the kernel, loads the configured plugins (before any client can connect), binds
    /// every enabled listener and starts the `$SYS` topics. Logs `listening on HOST:PORT` for each
    /// listener.
    ///
    /// Throws `NodeStartError` when a listener cannot bind, or (exit status 2) when a plugin does
    /// not load and `plugin_loader.on_error` is `stop`.
    public static func start(config: ServerConfig, logger: Logger) async throws -> RunningNode {
        let settings = config.settings
        let loops = settings.eventLoops > 0 ? settings.eventLoops : BrokerSettings.automaticEventLoops
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let broker = Broker(settings: config.resolvedSettings(logger: logger), group: group, logger: logger)
        let plugins = PluginManager(broker: broker, dataDirectory: config.dataDir, brokerVersion: starlingVersion,
                                    logger: logger)
        var channels: [Channel] = []
        var bound: [(config: ListenerConfig, address: SocketAddress)] = []
        do {
            try await loadPlugins(config, into: plugins, logger: logger)
            for listener in config.listeners where listener.enabled {
                let channel: Channel
                do {
                    let limit = ConnectionLimit(maximum: listener.maxConnections)
                    let bootstrap: ServerBootstrap
                    switch listener.kind {
                    case .tcp:
                        bootstrap = ListenerTuning.tcpBootstrap(group: group, broker: broker, limit: limit)
                    case .ws:
                        bootstrap = WebSocketListener.bootstrap(group: group, broker: broker, limit: limit,
                                                                path: listener.path)
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
        } catch {
            for channel in channels { try? await channel.close() }
            await plugins.unloadAll()
            try? await group.shutdownGracefully()
            throw error
        }
        let sys = SysPublisher(broker: broker, version: starlingVersion)
        sys.start()
        return RunningNode(broker: broker, plugins: plugins, group: group, serverChannels: channels, listeners: bound,
                           sys: sys, logger: logger)
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
        for channel in serverChannels { try? await channel.close() }
        try? await broker.disconnectAll().get()
        // Let the DISCONNECT packets leave before the loops stop.
        try? await Task.sleep(nanoseconds: 100_000_000)
        await plugins.unloadAll()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }
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
    /// The exit status `starling start` ends with: 2 for a plugin that does not load, 1 otherwise.
    public var exitCode: Int32 = 1
    public var description: String { message }
}

/// SIGINT and SIGTERM, caught from the moment this is created (before any listener opens,
/// so an early signal still stops the node gracefully).
final class TerminationSignals: @unchecked Sendable {
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
