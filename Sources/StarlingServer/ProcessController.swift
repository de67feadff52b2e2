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
    /// The TLS servers whose certificates a reload reads again.
    private let tlsContexts: [any CertificateReloading]
    /// The configuration in force: the one the node started with, its live settings replaced by
    /// each reload. Also serializes reloads.
    private let running: NIOLockedValueBox<ServerConfig>

    init(config: ServerConfig, source: ConfigSource?, broker: Broker, listeners: [ListenerDescription],
         tlsContexts: [any CertificateReloading] = [], logLevel: LogLevelSetting?, logger: Logger) {
        self.tlsContexts = tlsContexts
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
        let outcome = running.withLockedValue { running -> Result<ReloadReport, ReloadError> in
            // Every certificate is read before anything changes: one that does not load fails the
            // whole reload, and the certificates in force stay.
            var renewed: [(table: String, install: @Sendable () -> Void)] = []
            for server in tlsContexts {
                do throws(ConfigError) {
                    if let install = try server.renewal(for: loaded) { renewed.append((server.table, install)) }
                } catch {
                    logger.error("reload failed, nothing changed: \(error)")
                    return .failure(ReloadError(error.description))
                }
            }
            for (_, install) in renewed { install() }
            let changes = running.changes(to: loaded)
            let applied = running.applyingLiveSettings(of: loaded)
            // `allow_anonymous` left automatic is resolved against the listeners in force.
            broker.update(settings: applied.resolvedSettings(logger: logger))
            logLevel?.level = applied.logLevel
            running = applied
            return .success(ReloadReport(changed: changes.filter { ServerConfig.isLive(key: $0.key) },
                                restartRequired: changes.filter { !ServerConfig.isLive(key: $0.key) },
                                certificatesReloaded: renewed.map(\.table)))
        }
        let report = try outcome.get()
        logger.info("configuration reloaded", metadata: ["changed": "\(report.changed.map { $0.key })"])
        if !report.certificatesReloaded.isEmpty {
            logger.info("TLS certificates read again; new connections get them",
                        metadata: ["tables": "\(report.certificatesReloaded)"])
        }
        if !report.restartRequired.isEmpty {
            logger.warning("changed settings take effect only after a restart",
                           metadata: ["keys": "\(report.restartRequired.map(\.key))"])
        }
        return report
    }
}
