import MQTTCore
import NIOEmbedded
import XCTest
@testable import StarlingKernel

/// The layout of a loop's counter block: every counter has a slot of its own.
final class LoopStatsTests: XCTestCase {
    func testEverySlotIsDistinctAndCounts() {
        let stats = LoopStats(loop: EmbeddedEventLoop())
        var slots: [LoopStats.Slot] = [.messagesReceived, .messagesSent, .bytesReceived, .bytesSent, .connects]
        for raw in UInt8(1)...15 {
            let type = PacketType(rawValue: raw)!
            slots += [.received(type), .sent(type)]
        }
        slots += LoopStats.DropReason.allCases.map { .dropped($0) }
        slots += DisconnectReason.allCases.map { .disconnected($0) }
        slots += AuthenticationResult.allCases.map { .authenticated($0) }
        for action in AuthorizationAction.allCases {
            slots += AuthorizationResult.allCases.map { .authorized(action, $0) }
        }
        // Give slot i the value i + 1, then read them all back: an overlap would show.
        for (offset, slot) in slots.enumerated() { stats.add(slot, offset + 1) }
        XCTAssertEqual(slots.map(stats.value), Array(1...slots.count))
    }

    func testSentCountsThePacketAndItsBytes() {
        let stats = LoopStats(loop: EmbeddedEventLoop())
        stats.sent(.publish, bytes: 20)
        stats.sent(.publish, bytes: 22)
        stats.sent(.pingresp, bytes: 2)
        XCTAssertEqual(stats.value(.sent(.publish)), 2)
        XCTAssertEqual(stats.value(.sent(.pingresp)), 1)
        XCTAssertEqual(stats.value(.bytesSent), 44)
        XCTAssertEqual(stats.value(.received(.publish)), 0)
    }
}
