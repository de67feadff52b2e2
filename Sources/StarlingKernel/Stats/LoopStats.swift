import Atomics
import MQTTCore
import NIOCore

/// Counters of one event loop, in one block of memory of their own.
///
/// Only the loop writes them, so an update is a relaxed load and a relaxed store: no
/// read-modify-write, no lock prefix, and no cache line shared with another loop (the block is
/// aligned to and padded to whole cache lines). Anyone may read them, with relaxed loads, to add
/// up all loops (`Broker.stats`); a reader sees each counter's latest or a slightly older value.
final class LoopStats: LoopConfined, @unchecked Sendable {  // written on `loop` only, read atomically from anywhere
    typealias DropReason = MessageDropReason

    /// A counter's place in the block.
    struct Slot: Sendable {
        fileprivate let index: Int

        static let messagesReceived = Slot(index: 0)
        static let messagesSent = Slot(index: 1)
        static let bytesReceived = Slot(index: 2)
        static let bytesSent = Slot(index: 3)
        static let connects = Slot(index: 4)
        /// Indexed by packet type (1…15); slot 0 of each range is unused.
        private static let packetsReceivedBase = 5
        private static let packetsSentBase = packetsReceivedBase + 16
        private static let dropsBase = packetsSentBase + 16
        private static let disconnectsBase = dropsBase + DropReason.allCases.count
        private static let authenticationsBase = disconnectsBase + DisconnectReason.allCases.count
        private static let authorizationsBase = authenticationsBase + AuthenticationResult.allCases.count
        private static let afterAuthorizations = authorizationsBase
            + AuthorizationAction.allCases.count * AuthorizationResult.allCases.count
        /// Pending plugin answers that did not come within `plugin_loader.pending_timeout`.
        static let pendingTimeouts = Slot(index: afterAuthorizations)
        static let count = afterAuthorizations + 1

        static func received(_ type: PacketType) -> Slot { Slot(index: packetsReceivedBase + Int(type.rawValue)) }
        static func sent(_ type: PacketType) -> Slot { Slot(index: packetsSentBase + Int(type.rawValue)) }
        static func dropped(_ reason: DropReason) -> Slot { Slot(index: dropsBase + reason.rawValue) }
        static func disconnected(_ reason: DisconnectReason) -> Slot {
            Slot(index: disconnectsBase + DisconnectReason.allCases.firstIndex(of: reason)!)
        }
        static func authenticated(_ result: AuthenticationResult) -> Slot {
            Slot(index: authenticationsBase + AuthenticationResult.allCases.firstIndex(of: result)!)
        }
        @inline(__always)
        static func authorized(_ action: AuthorizationAction, _ result: AuthorizationResult) -> Slot {
            let row = action == .publish ? 0 : 1  // allCases order; counted on every PUBLISH that is checked
            let column = result == .allow ? 0 : 1
            return Slot(index: authorizationsBase + row * AuthorizationResult.allCases.count + column)
        }
    }

    /// swift-atomics' storage for an Int, spelled through its protocol: `Int.AtomicRepresentation`
    /// is ambiguous once the standard library's Synchronization is imported elsewhere in the module.
    private typealias AtomicSlot = AtomicsStorage<Int>
    private static let cacheLine = 128
    private let block: UnsafeMutablePointer<AtomicSlot>
    /// The loop that writes the counters.
    let loop: EventLoop

    init(loop: EventLoop) {
        self.loop = loop
        let bytes = (Slot.count * MemoryLayout<AtomicSlot>.stride + Self.cacheLine - 1)
            / Self.cacheLine * Self.cacheLine
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.cacheLine)
        let capacity = bytes / MemoryLayout<AtomicSlot>.stride
        block = raw.bindMemory(to: AtomicSlot.self, capacity: capacity)
        block.initialize(repeating: AtomicSlot(0), count: capacity)
    }

    deinit {
        UnsafeMutableRawPointer(block).deallocate()
    }

    /// Adds `amount` to a counter. Call only on the counters' loop.
    @inline(__always) func add(_ slot: Slot, _ amount: Int = 1) {
        assertOnLoop()
        let counter = UnsafeAtomic<Int>(at: block + slot.index)
        counter.store(counter.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// A counter's current value; from any thread.
    func value(_ slot: Slot) -> Int {
        UnsafeAtomic<Int>(at: block + slot.index).load(ordering: .relaxed)
    }

    func dropped(_ reason: DropReason) { add(.dropped(reason)) }

    func dropCount(_ reason: DropReason) -> Int { value(.dropped(reason)) }

    /// Counts one encoded packet of `bytes` bytes written to a client.
    @inline(__always) func sent(_ type: PacketType, bytes: Int) {
        add(.sent(type))
        add(.bytesSent, bytes)
    }
}

/// The swift-atomics storage type of `Value`.
typealias AtomicsStorage<Value: AtomicValue> = Value.AtomicRepresentation
