import Atomics
import Synchronization
import Logging
import MQTTCore
import NIOCore

/// Per-event-loop delivery state. Everything here is touched only on `loop`.
///
/// Deliveries to sessions on the same loop are written at once; deliveries to sessions on other
/// loops are batched and handed over in one task per target loop. Writes are flushed once per
/// burst: the first write of a burst schedules one flush task, which runs after the loop has
/// processed the current round of I/O, so a burst of reads costs one `writev` per connection.
final class LoopContext: LoopConfined, @unchecked Sendable {
    let loop: EventLoop
    let index: Int
    unowned(unsafe) var broker: Broker!
    let stats: LoopStats
    let routeCache = RouteCache()

    private var remote: [[(Message, Delivery)]]
    private var dirty: [MQTTConnection] = []
    private var flushScheduled = false
    private var scratch = Destinations()
    private var lastRateLimitedLog: NIODeadline = .distantPast
    /// Every open connection of this loop (for shutdown).
    private(set) var connections: [ObjectIdentifier: MQTTConnection] = [:]

    /// This loop's copy of the broker's settings (read on every packet; replaced by `Broker.update`).
    var settings: BrokerSettings
    /// This loop's copy of the hook chain, read on every CONNECT, PUBLISH and SUBSCRIBE through
    /// `withHooks` and replaced by `HookRegistry.update` (`installHooks`, in a task of this loop).
    /// Unmanaged, holding one reference: a hot path reads the chains without retaining them. In a
    /// cell of its own, allocated once, so that reading it is a plain load (a stored `var` of the
    /// class costs a dynamic exclusivity check, and this is read several times per PUBLISH).
    private let installedHooks: UnsafeMutablePointer<Unmanaged<InstalledHooks>> = {
        let cell = UnsafeMutablePointer<Unmanaged<InstalledHooks>>.allocate(capacity: 1)
        cell.initialize(to: .passRetained(InstalledHooks(HookChains())))
        return cell
    }()
    var hooksVersion = 0
    /// The ticket of the hook call running on this loop (0: none), for `PendingTickets`: a
    /// completion may arrive from another thread before the call has returned.
    let ticketInCall = Atomic<UInt64>(0)
    /// The last ticket answered while its call ran (0: none since it was cleared): when that call
    /// did not answer pending after all (a plugin bug), the kept answer is discarded.
    let answeredInCall = Atomic<UInt64>(0)
    private var ticketCounter: UInt64 = 0

    /// The cluster, once attached: publishes on this loop are offered to it for forwarding.
    var cluster: ClusterAttachment?
    /// Where sessions that outlive their connections are kept (`Broker.restore`); nil: memory only.
    var store: StoreWriter?
    /// Sessions of this loop behind with forwarded messages: cluster links wait for them.
    let forwardBacklog: ForwardBacklog

    /// Runs `body` with this loop's chains borrowed: no copy and no reference counting per
    /// PUBLISH. Sound because the chains are replaced only by a task of this loop, never while a
    /// hook runs on it. A list `body` returns is a copy of its own (for a suspended chain).
    @inline(__always)
    func withHooks<R>(_ body: (borrowing HookChains) -> R) -> R {
        installedHooks.pointee._withUnsafeGuaranteedRef { body($0.chains) }
    }

    /// Puts `chains` in force on this loop (on the loop, between hook calls).
    func installHooks(_ chains: HookChains) {
        assertOnLoop()
        let old = installedHooks.pointee
        installedHooks.pointee = .passRetained(InstalledHooks(chains))
        old.release()
    }

    deinit {
        installedHooks.pointee.release()
        installedHooks.deallocate()
    }

    init(loop: EventLoop, index: Int, loopCount: Int, settings: BrokerSettings) {
        self.settings = settings
        self.loop = loop
        self.index = index
        self.stats = LoopStats(loop: loop)
        self.forwardBacklog = ForwardBacklog(loop: loop)
        self.remote = Array(repeating: [], count: loopCount)
    }

    /// Delivers `message` to `delivery.session`, here or (batched) on the session's loop.
    @inline(__always)
    func deliver(_ message: Message, _ delivery: Delivery) {
        assertOnLoop()
        let target = delivery.session.context
        if target === self {
            delivery.session.deliver(message, delivery)
        } else {
            remote[target.index].append((message, delivery))
            scheduleFlush()
        }
    }

    /// A new ticket, named as the one in call until `endTicketedCall`.
    @inline(__always)
    func beginTicketedCall(_ hook: PendingHook) -> PendingTicket {
        assertOnLoop()
        ticketCounter &+= 1
        let ticket = PendingTicket(counter: ticketCounter, hook: hook, loopIndex: index)
        ticketInCall.store(ticket.value, ordering: .releasing)
        return ticket
    }

    @inline(__always)
    func endTicketedCall() {
        assertOnLoop()
        ticketInCall.store(0, ordering: .releasing)
        if answeredInCall.load(ordering: .relaxed) != 0 { discardUnclaimedAnswer() }
    }

    /// An answer was given for a ticket whose call then did not answer pending (or will be picked
    /// up by `PendingTickets.open` already): drops it if nobody claimed it.
    private func discardUnclaimedAnswer() {
        let ticket = answeredInCall.exchange(0, ordering: .acquiring)
        if ticket != 0 { broker.hooks.tickets.discardAnswer(ticket) }
    }

    /// Marks a connection as having unflushed writes.
    @inline(__always)
    func markDirty(_ connection: MQTTConnection) {
        assertOnLoop()
        guard !connection.needsFlush else { return }
        connection.needsFlush = true
        dirty.append(connection)
        scheduleFlush()
    }

    @inline(__always)
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.execute { [self] in flush() }
    }

    /// The reusable answer for one publish's destinations (publishes on one loop never nest).
    @inline(__always)
    func takeDestinations() -> Destinations {
        assertOnLoop()
        var taken = Destinations()
        swap(&taken, &scratch)
        return taken
    }

    @inline(__always)
    func returnDestinations(_ destinations: inout Destinations) {
        assertOnLoop()
        destinations.reset()
        swap(&destinations, &scratch)
    }

    func register(_ connection: MQTTConnection) {
        assertOnLoop()
        connections[ObjectIdentifier(connection)] = connection
    }

    /// How often the loop checks its connections for keep-alive and CONNECT timeouts. One
    /// repeated task per loop replaces a timer per connection (a scheduled task per connection
    /// costs memory and a heap operation at every connect, keep-alive change and close).
    static let sweepInterval = TimeAmount.milliseconds(250)

    /// Starts the loop's periodic idle check; it ends with the event loop.
    func startSweeping() {
        loop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { [self] _ in
            let now = NIODeadline.now()
            for connection in connections.values { connection.checkIdle(now: now) }
        }
    }
    func unregister(_ connection: MQTTConnection) {
        assertOnLoop()
        connections[ObjectIdentifier(connection)] = nil
    }

    func closeAllConnections() {

        assertOnLoop()
        for connection in connections.values { connection.shutDown() }
    }

    /// Logs at most one such warning per second per loop.
    func logRateLimited(_ logger: Logger, _ message: @autoclosure () -> Logger.Message, metadata: Logger.Metadata) {
        let now = NIODeadline.now()
        guard now - lastRateLimitedLog >= .seconds(1) else { return }
        lastRateLimitedLog = now
        logger.warning(message(), metadata: metadata)
    }

    /// Hands batched deliveries to their loops and flushes every dirty connection.
    func flush() {
        assertOnLoop()
        flushScheduled = false
        for targetIndex in remote.indices where !remote[targetIndex].isEmpty {
            let batch = remote[targetIndex]
            remote[targetIndex].removeAll(keepingCapacity: true)
            let target = broker.contexts[targetIndex]
            target.loop.execute {
                for (message, delivery) in batch {
                    target.deliver(message, delivery)
                    if message.forwarded { target.forwardBacklog.note(delivery.session) }
                }
            }
        }
        // Deliveries above may have dirtied connections of this loop (forwarding); flush them all.
        while !dirty.isEmpty {
            let connections = dirty
            dirty.removeAll(keepingCapacity: true)
            for connection in connections { connection.flush() }
        }
    }
}

/// One loop's hook chains behind a reference (see `LoopContext.withHooks`).
final class InstalledHooks: Sendable {
    let chains: HookChains
    init(_ chains: HookChains) { self.chains = chains }
}
