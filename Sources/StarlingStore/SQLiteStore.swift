import Foundation
import GRDB
import Logging
import StarlingKernel
#if canImport(Glibc)
import Glibc
#endif

/// The durable store in SQLite: `<data_dir>/store/starling.db`. Changes arrive on the broker's event
/// loops and are queued; one writer thread commits them in groups, at most `flushInterval` after
/// the first change of a group, so no event loop waits for the disk. A change of a topic replaces
/// the queued change of the same topic (only the last state needs writing).
public final class SQLiteStore: PersistentStore, @unchecked Sendable {  // its queue under `condition`, the database GRDB's
    /// The database file.
    public var path: String { file.path }

    private let file: StoreFile
    private let database: DatabaseQueue
    private let lockDescriptor: Int32
    private let flushInterval: TimeInterval
    private let logger: Logger

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pendingRetained: [String: RetainedRecord] = [:]
    private var stopping = false
    private var writerDone = false
    private var lastErrorLog: Date?

    /// Opens (or creates) the store in `directory` and starts its writer.
    /// - Throws: `StoreError` naming the file and the problem: another process holds the store, the
    ///   directory cannot be made, the file is not a Starling store (or is damaged), or its schema is
    ///   from a newer Starling.
    public init(directory: String, flushInterval: TimeInterval, logger: Logger) throws(StoreError) {
        file = StoreFile(directory: directory)
        lockDescriptor = try file.lock()
        do {
            database = try file.open()
        } catch {
            Glibc.close(lockDescriptor)
            throw error
        }
        self.flushInterval = flushInterval
        self.logger = logger
        let thread = Thread { [self] in runWriter() }
        thread.name = "starling-store"
        thread.start()
    }

    // MARK: - Reading (start-up)

    /// Every retained record, tombstones included.
    public func loadRetained() throws(StoreError) -> [RetainedRecord] {
        do {
            return try database.read { db in
                try Row.fetchAll(db, sql: "SELECT topic, message, expires_at, stamp_time, stamp_node FROM retained").map { row in
                    let bytes: [UInt8]? = (row["message"] as Data?).map { Array($0) }
                    let stampTime: Int64? = row["stamp_time"]
                    let stampNode: String? = row["stamp_node"]
                    return RetainedRecord(
                        topic: row["topic"],
                        message: bytes.map { StoredMessage(bytes: $0, expiresAtMilliseconds: row["expires_at"]) },
                        stamp: stampTime.flatMap { time in stampNode.map { RetainedStamp(time: UInt64(max(0, time)), node: $0) } })
                }
            }
        } catch {
            throw StoreError.unusable(path, StoreFile.describe(error))
        }
    }

    // MARK: - Writing

    public func retainedChanged(_ record: RetainedRecord) {
        condition.lock()
        pendingRetained[record.topic] = record
        condition.signal()
        condition.unlock()
    }

    /// Commits what is queued, stops the writer and closes the database. Call once, after the
    /// broker has stopped changing anything.
    public func close() {
        condition.lock()
        stopping = true
        condition.signal()
        while !writerDone { condition.wait() }
        condition.unlock()
        try? database.close()
        Glibc.close(lockDescriptor)
    }

    private func runWriter() {
        while true {
            condition.lock()
            while pendingRetained.isEmpty && !stopping { condition.wait() }
            let stop = stopping
            condition.unlock()
            // Gather the group: changes arriving within the flush interval share one commit.
            if !stop && flushInterval > 0 { Thread.sleep(forTimeInterval: flushInterval) }
            condition.lock()
            let batch = pendingRetained
            pendingRetained = [:]
            condition.unlock()
            if !batch.isEmpty { commit(batch, finalAttempt: stop) }
            if stop {
                condition.lock()
                if pendingRetained.isEmpty {
                    writerDone = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                condition.unlock()
            }
        }
    }

    /// Writes `batch` in one transaction. A failed write is retried with the next group, unless
    /// this is the last attempt before the store closes: a shutdown never waits on a full disk.
    private func commit(_ batch: [String: RetainedRecord], finalAttempt: Bool) {
        do {
            try database.write { db in
                let upsert = try db.cachedStatement(sql: """
                    INSERT INTO retained (topic, message, expires_at, stamp_time, stamp_node) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (topic) DO UPDATE SET message = excluded.message, expires_at = excluded.expires_at,
                        stamp_time = excluded.stamp_time, stamp_node = excluded.stamp_node
                    """)
                let delete = try db.cachedStatement(sql: "DELETE FROM retained WHERE topic = ?")
                for record in batch.values {
                    if record.message == nil && record.stamp == nil {
                        try delete.execute(arguments: [record.topic])
                    } else {
                        try upsert.execute(arguments: [
                            record.topic, record.message.map { Data($0.bytes) }, record.message?.expiresAtMilliseconds,
                            record.stamp.map { Int64(clamping: $0.time) }, record.stamp?.node,
                        ])
                    }
                }
            }
        } catch {
            if finalAttempt {
                logger.error("store \(path): cannot write at shutdown: \(StoreFile.describe(error)); \(batch.count) retained changes are lost")
                return
            }
            // Keep the batch for the next commit unless a newer change of its topic came meanwhile.
            condition.lock()
            for (topic, record) in batch where pendingRetained[topic] == nil { pendingRetained[topic] = record }
            let now = Date()
            let shouldLog = lastErrorLog.map { now.timeIntervalSince($0) >= 10 } ?? true
            if shouldLog { lastErrorLog = now }
            condition.unlock()
            if shouldLog {
                logger.error("store \(path): cannot write: \(StoreFile.describe(error)); retrying (this message at most every 10 s)")
            }
            Thread.sleep(forTimeInterval: 1)
        }
    }

    // MARK: - Checking

    /// What `starling store check` prints: the file, its size, the schema version and what it
    /// holds, after SQLite's `quick_check`.
    public func summary() throws(StoreError) -> String {
        do {
            return try database.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw StoreFailure(StoreError.unusable(path, "damaged: " + check.prefix(3).joined(separator: "; ")))
                }
                let version = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") ?? 0
                let retained = try Int.fetchOne(db, sql: "SELECT count(*) FROM retained WHERE message IS NOT NULL") ?? 0
                let tombstones = try Int.fetchOne(db, sql: "SELECT count(*) FROM retained WHERE message IS NULL") ?? 0
                return """
                    store \(path): ok
                      size: \(file.size()) bytes (with SQLite's side files)
                      schema version: \(version)
                      retained messages: \(retained)\(tombstones > 0 ? " (and \(tombstones) cluster tombstones)" : "")
                    """
            }
        } catch let failure as StoreFailure {
            throw failure.error
        } catch {
            throw StoreError.unusable(path, StoreFile.describe(error))
        }
    }
}
