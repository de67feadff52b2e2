import NIOConcurrencyHelpers
import NIOCore

/// Publishes the node's `$SYS/brokers/{node}/…` topics (see `SysTopics`): the version and
/// description once, retained, when started; uptime, date, stats and metrics every
/// `sys.interval` seconds (0: never). Runs on the broker's first event loop. A new interval put
/// in force by `Broker.update(settings:)` applies at once.
///
/// Client connected/disconnected events do not go through here: connections publish them
/// themselves (`sys.client_events`).
public final class SysPublisher: Sendable {
    private let broker: Broker
    private let version: String
    private let timer = NIOLockedValueBox<RepeatedTask?>(nil)

    /// - Parameter version: what `$SYS/brokers/{node}/version` says.
    public init(broker: Broker, version: String) {
        self.broker = broker
        self.version = version
    }

    /// Publishes the retained topics and starts the periodic ones.
    public func start() {
        let context = broker.contexts[0]
        let node = broker.settings.nodeName
        let retained = SysTopics.retained(node: node, version: version)
        context.loop.execute { [broker] in
            for (topic, payload) in retained {
                broker.publishSystem(topic: topic, retain: true, from: context) { payload }
            }
        }
        broker.sysIntervalObserver.set { [weak self] interval in self?.schedule(every: interval) }
        schedule(every: broker.settings.sys.interval)
    }

    /// Stops the periodic topics (the retained ones stay).
    public func stop() {
        broker.sysIntervalObserver.set(nil)
        schedule(every: 0)
    }

    /// Replaces the periodic task by one every `seconds` (none for 0).
    private func schedule(every seconds: Int) {
        let context = broker.contexts[0]
        let task: RepeatedTask? = seconds > 0
            ? context.loop.scheduleRepeatedTask(initialDelay: .seconds(Int64(seconds)), delay: .seconds(Int64(seconds))) {
                [broker] _ in SysPublisher.publishPeriodic(broker: broker, from: context)
            }
            : nil
        timer.withLockedValue { current in
            current?.cancel()
            current = task
        }
    }

    private static func publishPeriodic(broker: Broker, from context: LoopContext) {
        let topics = SysTopics.periodic(node: context.settings.nodeName, stats: broker.stats,
                                        datetime: NIODeadline.wallClockISO8601)
        for (topic, payload) in topics {
            broker.publishSystem(topic: topic, from: context) { payload }
        }
    }
}

/// Where `Broker.update(settings:)` tells the running `SysPublisher` (if any) of a new interval.
final class SysIntervalObserver: Sendable {
    private let observer = NIOLockedValueBox<(@Sendable (Int) -> Void)?>(nil)

    func set(_ observer: (@Sendable (Int) -> Void)?) {
        self.observer.withLockedValue { $0 = observer }
    }

    func notify(_ interval: Int) {
        observer.withLockedValue { $0 }?(interval)
    }
}
