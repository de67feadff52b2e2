// Recent answers of the HTTP server, so that a client repeating itself costs no round trip.
import Foundation

/// Answers by request key, each kept `ttl` and at most `maxSize` of them, oldest dropped first.
/// Called from every event-loop thread and from URLSession's queue: state behind `lock`.
final class DecisionCache: @unchecked Sendable {
    private struct Entry {
        var decision: Decision
        var expires: ContinuousClock.Instant
        var serial: Int
    }

    private let ttl: Duration
    private let maxSize: Int
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// (key, serial) in insertion order; a pair whose serial no longer matches its entry is stale.
    private var order: [(key: String, serial: Int)] = []
    private var orderStart = 0
    private var nextSerial = 0

    /// nil when `ttlMilliseconds` is 0: no cache.
    init?(ttlMilliseconds: Int, maxSize: Int) {
        guard ttlMilliseconds > 0 else { return nil }
        ttl = .milliseconds(ttlMilliseconds)
        self.maxSize = maxSize
    }

    func decision(for key: String) -> Decision? {
        lock.withLock {
            guard let entry = entries[key] else { return nil }
            guard entry.expires > .now else {
                entries[key] = nil
                return nil
            }
            return entry.decision
        }
    }

    func store(_ decision: Decision, for key: String) {
        lock.withLock {
            nextSerial += 1
            if entries[key] == nil {
                while entries.count >= maxSize, orderStart < order.count { evictOldest() }
            }
            entries[key] = Entry(decision: decision, expires: .now + ttl, serial: nextSerial)
            order.append((key, nextSerial))
            if order.count - orderStart > 2 * maxSize + 64 { compact() }
        }
    }

    /// How many answers are kept (expired ones included until looked up or pushed out).
    var count: Int { lock.withLock { entries.count } }

    private func evictOldest() {
        let (key, serial) = order[orderStart]
        orderStart += 1
        if entries[key]?.serial == serial { entries[key] = nil }
    }

    /// Drops stale pairs: the order list stays within a small multiple of the entries.
    private func compact() {
        order = order[orderStart...].filter { entries[$0.key]?.serial == $0.serial }
        orderStart = 0
    }
}
