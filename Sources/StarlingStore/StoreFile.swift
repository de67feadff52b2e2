import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The store's files under `<node.data_dir>/store/`: `starling.db` with SQLite's side files
/// (`-wal`, `-shm`), and `starling.db.lock`, which the process using the store holds locked
/// (`flock`), so that a second broker or `starling store check` on the same directory is told so.
struct StoreFile {
    let directory: String
    var path: String { directory + "/starling.db" }
    var lockPath: String { path + ".lock" }

    /// The files SQLite keeps for the store: their sizes count against `storage.max_bytes`.
    var files: [String] { [path, path + "-wal", path + "-shm"] }

    /// Creates the directory if needed and takes the lock; the descriptor stays open (and the lock
    /// held) for as long as the store is open.
    func lock() throws(StoreError) -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError("store directory \(directory): cannot create it: \(Self.describe(error))")
        }
        let descriptor = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreError("store \(lockPath): cannot open it: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another process (a running broker, or `starling store check`) holds this store"
                : String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw StoreError("store \(path): \(reason)")
        }
        return descriptor
    }

    /// The bytes the store's files take on disk now.
    func size() -> Int64 { size(of: files) }

    /// The bytes `paths` take on disk (a missing file: 0).
    func size(of paths: [String]) -> Int64 {
        paths.reduce(0) { total, file in
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            return total + ((attributes?[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    /// Opens the database, checks its schema before changing anything in the file (a file that is
    /// not a Starling store is left exactly as it was), then turns on WAL with `synchronous`
    /// (`NORMAL` or `FULL`), creates the tables of a new store and migrates an older one.
    /// `migrate` false (`store check`): the store is read as it is, never written (not even its
    /// journal mode).
    func open(synchronous: String = "NORMAL", migrate: Bool = true) throws(StoreError) -> DatabaseQueue {
        var configuration = Configuration()
        configuration.label = "starling-store"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw StoreError.unusable(path, Self.describe(error))
        }
        do {
            try queue.inDatabase { db in
                let found: Int?
                do throws(StoreError) { found = try StoreSchema.check(db, path: path) } catch { throw StoreFailure(error) }
                guard migrate else { return }  // checking: the file stays exactly as it is
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
                // A checkpoint leaves the WAL at most this long (it counts against storage.max_bytes).
                try db.execute(sql: "PRAGMA journal_size_limit = 4194304")
                if let found {
                    if found < StoreSchema.version {
                        try db.inTransaction { try StoreSchema.migrate(db, from: found); return .commit }
                    }
                } else {
                    try db.inTransaction { try StoreSchema.create(db); return .commit }
                }
            }
        } catch let failure as StoreFailure {
            throw failure.error
        } catch {
            throw StoreError.unusable(path, Self.describe(error))
        }
        return queue
    }

    /// SQLite's words for a failure (`file is not a database`, `database disk image is malformed`).
    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "\(error.resultCode)"
        }
        return "\(error)"
    }
}

/// Carries a `StoreError` through GRDB's untyped closures.
struct StoreFailure: Error {
    let error: StoreError
    init(_ error: StoreError) { self.error = error }
}
