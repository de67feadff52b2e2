import MQTTCore
import NIOCore
import NIOPosix
import XCTest
@testable import StarlingKernel
import StarlingTestSupport

/// A broker on a one-thread event loop group, made afresh for each test, with helpers to make
/// sessions on it. The group is shut down at tear-down.
class KernelTestCase: XCTestCase {
    private(set) var group: MultiThreadedEventLoopGroup!
    private(set) var broker: Broker!

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        reconfigure { _ in }
    }

    override func tearDownWithError() throws {
        broker = nil
        try group?.syncShutdownGracefully()
        group = nil
    }

    /// Replaces the test's broker by one whose settings `configure` changed. Call it before
    /// making sessions: they belong to the broker they were made with.
    func reconfigure(_ configure: (inout BrokerSettings) -> Void) {
        var settings = BrokerSettings()
        settings.allowAnonymous = true
        configure(&settings)
        broker = Broker(settings: settings, group: group, logger: .quiet)
    }

    /// A session without a connection (offline) on the broker's first loop.
    func makeSession(_ clientId: String) -> Session {
        Session(clientId: clientId, context: broker.contexts[0], broker: broker)
    }

    /// An offline session "c" on a new broker whose session settings `configure` changed.
    func offlineSession(_ configure: (inout SessionSettings) -> Void = { _ in }) -> Session {
        reconfigure { configure(&$0.session) }
        return makeSession("c")
    }

    /// An offline session whose queue is bounded only by `maxQueuedBytes = limit`.
    func byteBoundedSession(_ limit: Int) -> Session {
        offlineSession {
            $0.maxQueuedMessages = 0
            $0.maxQueuedBytes = limit
        }
    }

    func makeSessions(_ clientIds: String...) -> [Session] {
        clientIds.map(makeSession)
    }

    /// Marks `session` online by attaching a connection that has no channel. Only what reads
    /// `isOnline` may follow: anything that writes to that connection would trap.
    func bringOnline(_ session: Session) throws {
        let connection = MQTTConnection(broker: broker, loopContext: session.context, listenerLimit: ConnectionLimit(maximum: 1))
        try session.onLoop { session.attach(connection) }
        XCTAssertTrue(session.isOnline)
    }

    /// The drops of `reason` counted on the broker's first loop.
    func drops(_ reason: LoopStats.DropReason) -> Int {
        broker.contexts[0].stats.dropCount(reason)
    }
}

/// A kernel test case with a round-robin router of its own, made afresh for each test.
class RouterTestCase: KernelTestCase {
    private(set) var router: Router!

    override func setUpWithError() throws {
        try super.setUpWithError()
        router = Router(strategy: .roundRobin)
    }

    override func tearDownWithError() throws {
        router = nil
        try super.tearDownWithError()
    }
}

extension Router {
    /// Every delivery for a message on `topic` published by `publisherId`.
    func deliveries(for topic: String, from publisherId: String? = nil) -> [Delivery] {
        var deliveries: [Delivery] = []
        match(topic: topic, publisherId: publisherId, into: &deliveries)
        return deliveries
    }

    /// The client ids a message on `topic` reaches, sorted (one per delivery, repeats kept).
    func receivers(of topic: String, from publisherId: String? = nil) -> [String] {
        deliveries(for: topic, from: publisherId).map(\.session.clientId).sorted()
    }

    /// Subscribes each of `sessions` to `filter` at QoS 1.
    func subscribe(_ sessions: [Session], to filter: String) {
        for session in sessions { subscribe(session, filter: filter, options: SubscriptionOptions(qos: .atLeastOnce)) }
    }
}

extension Session {
    /// Runs `body` on the session's loop and waits for its result.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        try loop.submit(body).wait()
    }

    /// Delivers `message` through a subscription at `qos`, on the session's loop.
    func deliverNow(_ message: Message, subscriptionQoS qos: QoS = .exactlyOnce) throws {
        try onLoop { self.deliver(message, Delivery(session: self, options: SubscriptionOptions(qos: qos))) }
    }

    /// The payloads of the queued messages, oldest first, read on the session's loop. The queue
    /// is private, so this reads it by reflection; nil when the stored property is not found.
    func queuedPayloads() throws -> [String]? {
        try onLoop {
            (Mirror(reflecting: self).descendant("queue") as? CircularBuffer<PendingMessage>)?
                .map { String(buffer: $0.message.payload) }
        }
    }

    /// The payload bytes the session counts as queued (private, read by reflection).
    func queuedByteCount() throws -> Int? {
        try onLoop { Mirror(reflecting: self).descendant("queuedBytes") as? Int }
    }
}
