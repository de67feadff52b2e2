import GRDB

/// The store's tables and their version. `meta` names the application and the schema version; a
/// newer Starling migrates forward from any older version, and a store written by a newer one is
/// refused rather than misread.
///
/// Version 1: retained messages. Version 2: sessions, the messages they hold (each message stored
/// once in `messages`, referenced by `session_messages`) and their awaiting-release ids.
enum StoreSchema {
    static let application = "starling"
    static let version = 2

    /// Reads the schema without writing: nil for an empty database (a new store), else the version
    /// of a Starling store this one can read. Throws for anything else.
    static func check(_ db: Database, path: String) throws(StoreError) -> Int? {
        do {
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            if tables.isEmpty { return nil }
            guard tables.contains("meta"),
                  try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'application'") == application,
                  let found = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'")
            else {
                throw StoreError.unusable(path, "an SQLite database that is not a Starling store (tables: \(tables.sorted().joined(separator: ", ")))")
            }
            guard found <= version else {
                throw StoreError.unusable(path, "schema version \(found) was written by a newer Starling; this one reads versions up to \(version)")
            }
            return found
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.unusable(path, StoreFile.describe(error))
        }
    }

    /// Creates the tables of a new store.
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
            INSERT INTO meta (key, value) VALUES ('application', '\(application)'), ('schema_version', 1);
            CREATE TABLE retained (
                topic TEXT PRIMARY KEY,
                message BLOB,            -- NULL: a tombstone (a clustered delete)
                expires_at INTEGER,      -- wall-clock milliseconds; NULL: never
                stamp_time INTEGER,      -- the cluster stamp; NULL on a node without a cluster
                stamp_node TEXT
            ) WITHOUT ROWID;
            """)
        try migrate(db, from: 1)
    }

    /// Brings a store of version `found` to this version, one step per version, in the caller's
    /// transaction.
    static func migrate(_ db: Database, from found: Int) throws {
        if found < 2 {
            try db.execute(sql: """
                CREATE TABLE sessions (
                    client_id TEXT PRIMARY KEY,
                    expiry_interval INTEGER NOT NULL,
                    disconnected_at INTEGER, -- wall-clock milliseconds; NULL: a client was connected
                    state BLOB NOT NULL      -- subscriptions, user name, delayed will (the kernel's encoding)
                ) WITHOUT ROWID;
                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY,
                    message BLOB NOT NULL,
                    expires_at INTEGER
                );
                CREATE TABLE session_messages (
                    key INTEGER PRIMARY KEY, -- the order messages entered their sessions
                    client_id TEXT NOT NULL,
                    message_id INTEGER NOT NULL,
                    packet_id INTEGER,       -- NULL: queued; else in flight
                    awaiting_complete INTEGER NOT NULL,
                    delivery BLOB NOT NULL   -- QoS, flags, subscription identifiers, shared group
                );
                CREATE TABLE awaiting_release (
                    client_id TEXT NOT NULL,
                    packet_id INTEGER NOT NULL,
                    PRIMARY KEY (client_id, packet_id)
                ) WITHOUT ROWID;
                UPDATE meta SET value = 2 WHERE key = 'schema_version';
                """)
        }
    }
}
