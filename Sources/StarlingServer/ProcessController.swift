import Logging
import NIOConcurrencyHelpers
import NIOCore
import StarlingAdmin
import StarlingKernel

/// The node as the API and SIGHUP see it: its description, and the reload that reads the
/// configuration again and puts its live settings in force.
final class ProcessController: ProcessControl {
    let nodeDescription: NodeDescription
    private let broker: Broker
    private let source: ConfigSource?
    private let logLevel: LogLevelSetting?
    private let logger: Logger
    /// The configuration in force: the one the node started with, its live settings replaced by
    /// each reload. Also serializes reloads.
    private let running: NIOLockedValueBox<ServerConfig>

    init(config: ServerConfig, source: ConfigSource?, broker: Broker, listeners: [ListenerDescription],
         logLevel: LogLevelSetting?, logger: Logger) {
        self.nodeDescription = NodeDescription(name: config.settings.nodeName, version: starlingVersion,
                                               startedAt: .now(), listeners: listeners)
        self.broker = broker
        self.source = source
        self.logLevel = logLevel
        self.logger = logger
        self.running = NIOLockedValueBox(config)
    }

    /// The configuration in force.
    var config: ServerConfig { running.withLockedValue { $0 } }

    func reload() throws(ReloadError) -> ReloadReport {
        guard let source else { throw ReloadError("this node was started without a configuration source to reload") }
        let loaded: ServerConfig
        do {
            loaded = try source.load()
        } catch {
            logger.error("reload failed, nothing changed: \(error)")
            throw ReloadError(error.description)
        }
        let report = running.withLockedValue { running in
            let changes = running.changes(to: loaded)
            let applied = running.applyingLiveSettings(of: loaded)
            // `allow_anonymous` left automatic is resolved against the listeners in force.
            broker.update(settings: applied.resolvedSettings(logger: logger))
            logLevel?.level = applied.logLevel
            running = applied
            return ReloadReport(changed: changes.filter { ServerConfig.isLive(key: $0.key) },
                                restartRequired: changes.filter { !ServerConfig.isLive(key: $0.key) })
        }
        logger.info("configuration reloaded", metadata: ["changed": "\(report.changed.map(\.key))"])
        if !report.restartRequired.isEmpty {
            logger.warning("changed settings take effect only after a restart",
                           metadata: ["keys": "\(report.restartRequired.map(\.key))"])
        }
        return report
    }
}
