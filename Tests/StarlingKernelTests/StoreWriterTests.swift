import Logging
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
@testable import StarlingKernel
import StarlingTestSupport
import XCTest

/// The store writer's group commit: what reaches the backend, once, in which group, and what a
/// failed commit does to the groups after it. The backend here records the batches (SQLite's side
/// is tested against the real binary in tests/python/test_store*.py).
final class StoreWriterTests: XCTestCase {
    /// Records every batch; fails the next `failures` writes.
    private final class RecordingBackend: PersistentStore, @unchecked Sendable {  // state under `state`'s lock
        let state = NIOLockedValueBox((batches: [StoreBatch](), failures: 0))
        func load() throws -> StoreContents { StoreContents() }
        func write(_ batch: StoreBatch) throws {
            try state.withLockedValue { state in
                if state.failures > 0 {
                    state.failures -= 1
                    throw TestSupportError("disk full")
                }
                state.batches.append(batch)
            }
        }
        func bytesUsed() -> Int64 { 0 }
        func compact() {}
        var batches: [StoreBatch] { state.withLockedValue { $0.batches } }
    }

    private func pending(_ payload: String, qos: QoS = .atLeastOnce) -> PendingMessage {
        let message = Message(topic: "t", payload: ByteBuffer(string: payload), qos: qos, retain: false, publisherId: "pub")
        return PendingMessage(message: message, qos: qos, retain: false, identifiers: [], sharedGroup: nil)
    }

    private func writer(_ backend: RecordingBackend) -> StoreWriter {
        StoreWriter(backend: backend, contents: StoreContents(), flushInterval: .milliseconds(1), durability: .batch,
                    maxBytes: 0, logger: .quiet)
    }

    func testAMessageLetGoWithinTheGroupNeverReachesTheDisk() async throws {
        let backend = RecordingBackend()
        let store = writer(backend)
        defer { store.close() }
        let gone = pending("acknowledged at once")
        let kept = pending("queued")
        store.atomically {
            let key = store.add(gone, for: "a", packetId: 1, awaitingComplete: false)
            store.remove(key: key, gone.message)
            _ = store.add(kept, for: "a", packetId: nil, awaitingComplete: false)
        }
        try await waitUntil("one group committed") { !backend.batches.isEmpty }
        let batch = try XCTUnwrap(backend.batches.first)
        XCTAssertEqual(batch.sessionMessages.count, 1)
        XCTAssertEqual(batch.messages.count, 1, "only the kept message is written")
        XCTAssertEqual(batch.removedSessionMessages, [])
        XCTAssertEqual(batch.removedMessages, [])
    }

    func testAMessageHeldBySeveralSessionsIsStoredOnceAndGoesWithItsLastReference() async throws {
        let backend = RecordingBackend()
        let store = writer(backend)
        defer { store.close() }
        let copy = pending("for three")
        let keys = store.atomically { ["a", "b", "c"].map { store.add(copy, for: $0, packetId: nil, awaitingComplete: false) } }
        try await waitUntil("the copies committed") { backend.batches.count == 1 }
        XCTAssertEqual(backend.batches[0].messages.count, 1)
        XCTAssertEqual(backend.batches[0].sessionMessages.count, 3)
        let id = backend.batches[0].messages[0].id
        store.atomically {
            store.remove(key: keys[0], copy.message)
            store.remove(key: keys[1], copy.message)
        }
        try await waitUntil("two removals committed") { backend.batches.count == 2 }
        XCTAssertEqual(Set(backend.batches[1].removedSessionMessages), Set(keys[0...1]))
        XCTAssertEqual(backend.batches[1].removedMessages, [], "one session still holds it")
        store.remove(key: keys[2], copy.message)
        try await waitUntil("the last removal committed") { backend.batches.count == 3 }
        XCTAssertEqual(backend.batches[2].removedMessages, [id])
    }

    func testAFailedGroupIsRetriedWithLaterChangesMergedIn() async throws {
        let backend = RecordingBackend()
        backend.state.withLockedValue { $0.failures = 1 }
        let store = writer(backend)
        defer { store.close() }
        let drained = pending("drained while the disk was full")
        let kept = pending("still queued")
        let outcome = NIOLockedValueBox([Bool]())
        let drainedKey = store.atomically {
            let key = store.add(drained, for: "a", packetId: nil, awaitingComplete: false)
            _ = store.add(kept, for: "a", packetId: nil, awaitingComplete: false)
            store.releaseAdded(7, for: "a")
            store.whenCommitted { stored in outcome.withLockedValue { $0.append(stored) } }
            return key
        }
        try await waitUntil("the failed commit reported") { outcome.withLockedValue { $0 } == [false] }
        XCTAssertTrue(store.isFull, "a failed commit drops new copies until one succeeds")
        store.remove(key: drainedKey, drained.message)
        store.whenCommitted { stored in outcome.withLockedValue { $0.append(stored) } }
        try await waitUntil("the retry committed", timeout: .seconds(5)) { !backend.batches.isEmpty }
        try await waitUntil("its waiter told") { outcome.withLockedValue { $0 } == [false, true] }
        let batch = backend.batches[0]
        XCTAssertEqual(batch.sessionMessages.map { $0.clientId }, ["a"], "the drained copy's insert was cancelled")
        XCTAssertEqual(batch.messages.count, 1)
        XCTAssertEqual(batch.removedSessionMessages, [], "nothing to delete: it never reached the disk")
        XCTAssertEqual(batch.addedReleases, [ReleaseRecord(clientId: "a", packetId: 7)])
        XCTAssertFalse(store.isFull)
    }

    func testAnEndedSessionLeavesNoAwaitingReleaseBehind() async throws {
        let backend = RecordingBackend()
        let store = writer(backend)
        defer { store.close() }
        store.atomically {
            store.releaseAdded(3, for: "a")
            store.sessionEnded("a")
            store.releaseAdded(4, for: "b")
        }
        try await waitUntil("committed") { !backend.batches.isEmpty }
        XCTAssertEqual(backend.batches[0].endedSessions, ["a"])
        XCTAssertEqual(backend.batches[0].addedReleases, [ReleaseRecord(clientId: "b", packetId: 4)],
                       "a's id would come back after its rows are deleted")
    }
}
