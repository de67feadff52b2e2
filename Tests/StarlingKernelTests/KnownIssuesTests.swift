import MQTTCore
import XCTest
@testable import StarlingKernel

/// Tests of kernel bugs found while writing this suite. They fail until the kernel is fixed;
/// each names the code at fault. Move a test to its topic's file once it passes.
final class KnownIssuesTests: KernelTestCase {
    /// `Session.enqueue` (Sources/StarlingKernel/Session/Session.swift, the drop loop under
    /// "The oldest QoS 0 goes first"): its `while !queue.isEmpty, …` makes room by evicting,
    /// but when a single QoS 1/2 message is larger than `maxQueuedBytes` it evicts the whole
    /// queue and then appends the message anyway. Expected: the queue never holds more than
    /// `maxQueuedBytes` and a message that can never fit is dropped (counted as `queue_full`)
    /// without evicting the others. Actual: the queue holds only the oversized message,
    /// `queuedBytes` is 11 with a limit of 10, and two messages that fit were dropped.
    func testMessageLargerThanTheByteLimitIsDroppedWithoutEvictingTheQueue() throws {
        let session = byteBoundedSession(10)
        for payload in ["1111", "2222", "12345678901"] { try session.deliverNow(message("t", payload)) }
        XCTAssertLessThanOrEqual(try XCTUnwrap(session.queuedByteCount()), 10, "the byte bound holds")
        XCTAssertEqual(try session.queuedPayloads(), ["1111", "2222"])
        XCTAssertEqual(drops(.queueFull), 1, "only the oversized message is dropped")
    }
}
