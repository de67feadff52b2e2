import GRDB

/// The store's tables and their version. `meta` names the application and the schema version; a
/// newer Starling migrates forward from any older version, and a store written by a newer one is
/// refused rather than misread.
enum StoreSchema {
    static let application = "starling"
    static let version = 1

    /// Reads the schema without writing: true for an empty database (a new store), false for a
    /// Starling store of this version or an older one. Throws for anything else.
    static func check(_ db: Database, path: String) throws(StoreError) -> Bool {
        do {
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            if tables.isEmpty { return true }
            guard tables.contains("meta"),
                  try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'application'") == application,
                  let found = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'")
            else {
                throw StoreError.unusable(path, "an SQLite database that is not a Starling store (tables: \(tables.sorted().joined(separator: ", ")))")
            }
            guard found <= version else {
                throw StoreError.unusable(path, "schema version \(found) was written by a newer Starling; this one reads versions up to \(version)")
            }
            // Migrations from older versions go here, one step per version.
            return false
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.unusable(path, StoreFile.describe(error))
        }
    }

    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
            INSERT INTO meta (key, value) VALUES ('application', '\(application)'), ('schema_version', \(version));
            CREATE TABLE retained (
                topic TEXT PRIMARY KEY,
                message BLOB,            -- NULL: a tombstone (a clustered delete)
                expires_at INTEGER,      -- wall-clock milliseconds; NULL: never
                stamp_time INTEGER,      -- the cluster stamp; NULL on a node without a cluster
                stamp_node TEXT
            ) WITHOUT ROWID;
            """)
    }
}
