import Foundation
import GRDB
import Logging
import StarlingKernel
#if canImport(Glibc)
import Glibc
#endif

/// The durable store in SQLite: `<data_dir>/store/starling.db`, in WAL mode. The kernel's writer
/// calls `write` from one thread with each group of changes; each group is one transaction.
public final class SQLiteStore: PersistentStore, @unchecked Sendable {  // used by one thread at a time (the writer)
    /// The database file.
    public var path: String { file.path }

    private let file: StoreFile
    private let database: DatabaseQueue
    private let lockDescriptor: Int32

    /// Opens (or creates, or migrates) the store in `directory`. `synchronousFull`: every commit is
    /// on the disk before `write` returns (SQLite `synchronous = FULL`: it survives a power loss);
    /// otherwise (`NORMAL`, in WAL mode) a commit survives a crash of the process, and a power loss
    /// may take the last commits back.
    /// - Throws: `StoreError` naming the file and the problem: another process holds the store, the
    ///   directory cannot be made, the file is not a Starling store (or is damaged), or its schema is
    ///   from a newer Starling.
    /// `forChecking`: an older store is read as it is (`starling store check` writes nothing).
    public init(directory: String, synchronousFull: Bool = false, forChecking: Bool = false) throws(StoreError) {
        file = StoreFile(directory: directory)
        lockDescriptor = try file.lock()
        do {
            database = try file.open(synchronous: synchronousFull ? "FULL" : "NORMAL", migrate: !forChecking)
        } catch {
            Glibc.close(lockDescriptor)
            throw error
        }
    }

    /// Closes the database and lets go of the store's lock. Call once, after the last `write`.
    public func close() {
        try? database.close()
        Glibc.close(lockDescriptor)
    }

    // MARK: - PersistentStore

    public func load() throws -> StoreContents {
        do {
            return try database.read { db in
                var contents = StoreContents()
                contents.retained = try Row.fetchAll(db, sql: "SELECT topic, message, expires_at, stamp_time, stamp_node FROM retained").map { row in
                    let stampTime: Int64? = row["stamp_time"]
                    let stampNode: String? = row["stamp_node"]
                    return RetainedRecord(
                        topic: row["topic"], message: Self.message(row, "message"),
                        stamp: stampTime.flatMap { time in stampNode.map { RetainedStamp(time: UInt64(max(0, time)), node: $0) } })
                }
                contents.sessions = try Row.fetchAll(db, sql: "SELECT client_id, expiry_interval, disconnected_at, state FROM sessions").map { row in
                    SessionRecord(clientId: row["client_id"], expiryInterval: UInt32(clamping: row["expiry_interval"] as Int64),
                                  disconnectedAtMilliseconds: row["disconnected_at"], state: Self.bytes(row, "state"))
                }
                let cursor = try Row.fetchCursor(db, sql: """
                    SELECT key, client_id, message_id, packet_id, awaiting_complete, delivery FROM session_messages ORDER BY key
                    """)
                while let row = try cursor.next() {
                    let packetId: Int64? = row["packet_id"]
                    contents.sessionMessages.append(SessionMessageRecord(
                        key: row["key"], clientId: row["client_id"], messageId: row["message_id"],
                        packetId: packetId.map { UInt16(truncatingIfNeeded: $0) }, awaitingComplete: row["awaiting_complete"],
                        delivery: Self.bytes(row, "delivery")))
                }
                let messages = try Row.fetchCursor(db, sql: "SELECT id, message, expires_at FROM messages")
                while let row = try messages.next() {
                    contents.messages[row["id"]] = Self.message(row, "message")
                }
                contents.releases = try Row.fetchAll(db, sql: "SELECT client_id, packet_id FROM awaiting_release").map { row in
                    ReleaseRecord(clientId: row["client_id"], packetId: UInt16(truncatingIfNeeded: row["packet_id"] as Int64))
                }
                return contents
            }
        } catch {
            throw StoreError.unusable(path, StoreFile.describe(error))
        }
    }

    private static func bytes(_ row: Row, _ column: String) -> [UInt8] {
        (row[column] as Data?).map { Array($0) } ?? []
    }

    private static func message(_ row: Row, _ column: String) -> StoredMessage? {
        (row[column] as Data?).map { StoredMessage(bytes: Array($0), expiresAtMilliseconds: row["expires_at"]) }
    }

    public func write(_ batch: StoreBatch) throws {
        do {
            try database.write { db in try apply(batch, to: db) }
        } catch {
            throw StoreError("store \(path): \(StoreFile.describe(error))")
        }
    }

    /// The batch's changes, in the order `StoreBatch` documents.
    private func apply(_ batch: StoreBatch, to db: Database) throws {
        if !batch.retained.isEmpty {
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO retained (topic, message, expires_at, stamp_time, stamp_node) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (topic) DO UPDATE SET message = excluded.message, expires_at = excluded.expires_at,
                    stamp_time = excluded.stamp_time, stamp_node = excluded.stamp_node
                """)
            let delete = try db.cachedStatement(sql: "DELETE FROM retained WHERE topic = ?")
            for record in batch.retained {
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
        if !batch.endedSessions.isEmpty {
            let session = try db.cachedStatement(sql: "DELETE FROM sessions WHERE client_id = ?")
            let releases = try db.cachedStatement(sql: "DELETE FROM awaiting_release WHERE client_id = ?")
            for clientId in batch.endedSessions {
                try session.execute(arguments: [clientId])
                try releases.execute(arguments: [clientId])
            }
        }
        if !batch.sessions.isEmpty {
            let upsert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO sessions (client_id, expiry_interval, disconnected_at, state) VALUES (?, ?, ?, ?)
                """)
            for record in batch.sessions {
                try upsert.execute(arguments: [record.clientId, Int64(record.expiryInterval), record.disconnectedAtMilliseconds,
                                               Data(record.state)])
            }
        }
        if !batch.messages.isEmpty {
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO messages (id, message, expires_at) VALUES (?, ?, ?)")
            for (id, message) in batch.messages {
                try insert.execute(arguments: [id, Data(message.bytes), message.expiresAtMilliseconds])
            }
        }
        if !batch.sessionMessages.isEmpty {
            let upsert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO session_messages (key, client_id, message_id, packet_id, awaiting_complete, delivery)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
            for record in batch.sessionMessages {
                try upsert.execute(arguments: [record.key, record.clientId, record.messageId, record.packetId.map { Int64($0) },
                                               record.awaitingComplete, Data(record.delivery)])
            }
        }
        try deleteEach(batch.removedSessionMessages, sql: "DELETE FROM session_messages WHERE key = ?", in: db)
        if !batch.removedReleases.isEmpty {
            let delete = try db.cachedStatement(sql: "DELETE FROM awaiting_release WHERE client_id = ? AND packet_id = ?")
            for release in batch.removedReleases { try delete.execute(arguments: [release.clientId, Int64(release.packetId)]) }
        }
        if !batch.addedReleases.isEmpty {
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO awaiting_release (client_id, packet_id) VALUES (?, ?)")
            for release in batch.addedReleases { try insert.execute(arguments: [release.clientId, Int64(release.packetId)]) }
        }
        try deleteEach(batch.removedMessages, sql: "DELETE FROM messages WHERE id = ?", in: db)
    }

    /// Moves the WAL into the main file and truncates it (its file never shrinks otherwise).
    public func compact() {
        _ = try? database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// The pages SQLite uses for data (free pages of the main file left out: they are reused)
    /// and its WAL and shared-memory files.
    public func bytesUsed() -> Int64 {
        let pages = (try? database.read { db -> Int64 in
            let count = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            return (count - free) * size
        }) ?? 0
        return pages + file.size(of: [path + "-wal", path + "-shm"])
    }

    private func deleteEach(_ ids: [Int64], sql: String, in db: Database) throws {
        guard !ids.isEmpty else { return }
        let delete = try db.cachedStatement(sql: sql)
        for id in ids { try delete.execute(arguments: [id]) }
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
                func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
                let version = try count("SELECT value FROM meta WHERE key = 'schema_version'")
                let retained = try count("SELECT count(*) FROM retained WHERE message IS NOT NULL")
                let tombstones = try count("SELECT count(*) FROM retained WHERE message IS NULL")
                var summary = """
                    store \(path): ok
                      size: \(file.size()) bytes (with SQLite's side files)
                      schema version: \(version)\(version < StoreSchema.version ? " (the broker migrates it to \(StoreSchema.version) at start-up)" : "")
                      retained messages: \(retained)\(tombstones > 0 ? " (and \(tombstones) cluster tombstones)" : "")
                    """
                guard version >= 2 else { return summary }  // no sessions before schema 2
                let sessions = try count("SELECT count(*) FROM sessions")
                let queued = try count("SELECT count(*) FROM session_messages WHERE packet_id IS NULL")
                let inflight = try count("SELECT count(*) FROM session_messages WHERE packet_id IS NOT NULL")
                let messages = try count("SELECT count(*) FROM messages")
                summary += "\n  sessions: \(sessions)\n  session messages: \(queued) queued, \(inflight) in flight (\(messages) distinct messages)"
                return summary
            }
        } catch let failure as StoreFailure {
            throw failure.error
        } catch {
            throw StoreError.unusable(path, StoreFile.describe(error))
        }
    }
}
