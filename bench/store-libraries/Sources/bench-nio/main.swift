// vapor/sqlite-nio 1.13.2 (bundled SQLite) driver.
// sqlite-nio has NO synchronous API and NO public prepared-statement API: every `query` call is shipped to an
// NIOThreadPool thread, where the SQL is prepared, bound, stepped and finalized, and the result comes back as an
// EventLoopFuture or through async/await. Three ways to drive it from the broker's writer are measured:
//   nio-wait   : dedicated writer thread, `conn.query(sql, binds).wait()` per statement (NIOThreadPool.singleton)
//   nio-pipe   : dedicated writer thread, connection on a private 1-thread NIOThreadPool (FIFO => statement order
//                preserved); all statements of a group commit are submitted without waiting, then the writer
//                waits for COMMIT's future. (A failed INSERT does NOT stop the following COMMIT: unsafe as is.)
//   nio-async  : `try await conn.query(sql, binds) { _ in }` per statement inside a Task (writer thread blocks
//                on a semaphore once per group commit).
// plus a reference floor `raw-bundled` that calls the bundled C library directly through the VaporCSQLite module
// (NOT a product of sqlite-nio: it only links because SwiftPM exposes transitive C modules; unsupported).
import Common
import Foundation
import NIOCore
import NIOPosix
import SQLiteNIO
import VaporCSQLite

final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

func blocking<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let sem = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        sem.signal()
    }
    sem.wait()
    return try box.result!.get()
}

enum Mode: String { case wait = "nio-wait", pipe = "nio-pipe", async = "nio-async" }

final class NIODriver: StoreDriver {
    let mode: Mode
    var name: String { mode.rawValue }
    var conn: SQLiteConnection!
    var pool: NIOThreadPool?
    var payload = ByteBuffer()
    var props = ByteBuffer()
    init(mode: Mode) { self.mode = mode }

    func open(path: String) throws {
        switch mode {
        case .pipe:
            let p = NIOThreadPool(numberOfThreads: 1)
            p.start()
            pool = p
            conn = try SQLiteConnection.open(storage: .file(path: path), threadPool: p,
                                             on: MultiThreadedEventLoopGroup.singleton.any()).wait()
        default:
            conn = try SQLiteConnection.open(storage: .file(path: path)).wait()
        }
    }
    func execute(_ sql: String) throws { _ = try conn.query(sql, []).wait() }
    func prepareWorkload(payload: [UInt8]) throws {
        self.payload = ByteBuffer(bytes: payload)
        self.props = ByteBuffer(bytes: Workload.props)
    }

    /// Builds the statement list of one group commit (identical SQL and values to the GRDB driver).
    @inline(__always) func forEachStatement(_ b: WriteBatch, _ f: (String, [SQLiteData]) throws -> Void) rethrows {
        try f("BEGIN", [])
        for i in 0..<b.count {
            let id = b.firstID + Int64(i)
            try f(SQL.insertMessage, [.integer(Int(id)), .text(b.topic(id)), .blob(payload), .integer(1), .integer(0),
                                      .integer(Int(Workload.expiresAt)), .blob(props)])
            for s in 0..<b.subscribers {
                try f(SQL.insertQueue, [.integer(s + 1), .integer(Int(id)), .integer(Int(id))])
            }
        }
        try f("COMMIT", [])
    }
    func forEachDelete(_ ops: ArraySlice<DeleteOp>, _ f: (String, [SQLiteData]) throws -> Void) rethrows {
        try f("BEGIN", [])
        for op in ops {
            switch op {
            case let .queue(s, seq): try f(SQL.deleteQueue, [.integer(Int(s)), .integer(Int(seq))])
            case let .message(id): try f(SQL.deleteMessage, [.integer(Int(id))])
            }
        }
        try f("COMMIT", [])
    }
    func run(_ gen: ((String, [SQLiteData]) throws -> Void) throws -> Void) throws {
        switch mode {
        case .wait:
            try gen { sql, binds in _ = try conn.query(sql, binds).wait() }
        case .pipe:
            var futures: [EventLoopFuture<[SQLiteRow]>] = []
            try gen { sql, binds in futures.append(conn.query(sql, binds)) }
            for f in futures { _ = try f.wait() }   // waits for COMMIT (last); earlier ones are already done
        case .async:
            var list: [(String, [SQLiteData])] = []
            try gen { sql, binds in list.append((sql, binds)) }
            let c = conn!
            let l = list
            try blocking {
                for (sql, binds) in l { try await c.query(sql, binds) { _ in } }
            }
        }
    }
    func write(_ b: WriteBatch) throws { try run { try forEachStatement(b, $0) } }
    func delete(_ ops: ArraySlice<DeleteOp>) throws { try run { try forEachDelete(ops, $0) } }

    struct Msg { var id: Int; var topic: String; var payload: ByteBuffer; var qos: Int; var retain: Bool; var expiresAt: Int; var props: ByteBuffer? }
    struct QRow { var session: Int; var seq: Int; var message: Int }
    struct Sess { var id: Int; var clientID: String; var expiry: Int; var state: ByteBuffer? }

    var restoreVariant = "async-onRow"
    func restore() throws -> RestoreResult {
        let msgs = Box<[Msg]>([]), q = Box<[QRow]>([]), sess = Box<[Sess]>([]), bytes = Box(0)
        let onMsg: @Sendable (SQLiteRow) -> Void = { r in
            let p = r.column("payload")!.blob!
            bytes.value += p.readableBytes
            msgs.value.append(Msg(id: r.column("id")!.integer!, topic: r.column("topic")!.string!, payload: p,
                                  qos: r.column("qos")!.integer!, retain: r.column("retain")!.bool!,
                                  expiresAt: r.column("expires_at")!.integer!, props: r.column("props")!.blob))
        }
        let onQ: @Sendable (SQLiteRow) -> Void = { r in
            q.value.append(QRow(session: r.column("session_id")!.integer!, seq: r.column("seq")!.integer!,
                                message: r.column("message_id")!.integer!))
        }
        let onS: @Sendable (SQLiteRow) -> Void = { r in
            sess.value.append(Sess(id: r.column("id")!.integer!, clientID: r.column("client_id")!.string!,
                                   expiry: r.column("expiry")!.integer!, state: r.column("state")!.blob))
        }
        let c = conn!
        switch restoreVariant {
        case "future-onRow":   // EventLoopFuture API: every row is re-submitted to the event loop
            try c.query(SQL.selectMessages, [], onMsg).wait()
            try c.query(SQL.selectQueue, [], onQ).wait()
            try c.query(SQL.selectSessions, [], onS).wait()
        case "rows-array":     // query(sql) -> [SQLiteRow], then convert
            let rows = try blocking { () -> [[SQLiteRow]] in
                [try await c.query(SQL.selectMessages), try await c.query(SQL.selectQueue), try await c.query(SQL.selectSessions)] }
            rows[0].forEach(onMsg); rows[1].forEach(onQ); rows[2].forEach(onS)
        default:               // async API on SQLiteConnection: onRow runs on the pool thread
            try blocking {
                try await c.query(SQL.selectMessages, [], onMsg)
                try await c.query(SQL.selectQueue, [], onQ)
                try await c.query(SQL.selectSessions, [], onS)
            }
        }
        return RestoreResult(messages: msgs.value.count, queueRows: q.value.count, sessions: sess.value.count,
                             payloadBytes: bytes.value, keep: [msgs, q, sess] as [Any])
    }
    func close() throws {
        try conn.close().wait()
        conn = nil
        if let p = pool { try p.syncShutdownGracefully(); pool = nil }
    }
}

// MARK: - Raw bundled-C reference driver (same code as bench-grdb's RawDriver, sqlite_nio_ prefix)

let TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
struct RawError: Error, CustomStringConvertible { var code: Int32; var message: String; var description: String { "raw sqlite3 error \(code): \(message)" } }

final class RawDriver: StoreDriver {
    let name = "raw-bundled"
    var db: OpaquePointer?
    var stmts: [String: OpaquePointer] = [:]
    var payload: [UInt8] = []
    let props = Workload.props
    func check(_ rc: Int32) throws {
        if rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW {
            throw RawError(code: rc, message: String(cString: sqlite_nio_sqlite3_errmsg(db)))
        }
    }
    func open(path: String) throws {
        try check(sqlite_nio_sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil))
        sqlite_nio_sqlite3_extended_result_codes(db, 1)
    }
    func execute(_ sql: String) throws { try check(sqlite_nio_sqlite3_exec(db, sql, nil, nil, nil)) }
    func stmt(_ sql: String) throws -> OpaquePointer {
        if let s = stmts[sql] { return s }
        var s: OpaquePointer?
        try check(sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil))
        stmts[sql] = s!
        return s!
    }
    func prepareWorkload(payload: [UInt8]) throws { self.payload = payload }
    @inline(__always) func run(_ s: OpaquePointer) throws {
        let rc = sqlite_nio_sqlite3_step(s)
        sqlite_nio_sqlite3_reset(s)
        if rc != SQLITE_DONE { try check(rc) }
    }
    func write(_ b: WriteBatch) throws {
        let m = try stmt(SQL.insertMessage), q = try stmt(SQL.insertQueue)
        try run(try stmt("BEGIN"))
        for i in 0..<b.count {
            let id = b.firstID + Int64(i)
            sqlite_nio_sqlite3_bind_int64(m, 1, id)
            sqlite_nio_sqlite3_bind_text(m, 2, b.topic(id), -1, TRANSIENT)
            payload.withUnsafeBytes { _ = sqlite_nio_sqlite3_bind_blob(m, 3, $0.baseAddress, Int32($0.count), TRANSIENT) }
            sqlite_nio_sqlite3_bind_int64(m, 4, 1)
            sqlite_nio_sqlite3_bind_int64(m, 5, 0)
            sqlite_nio_sqlite3_bind_int64(m, 6, Workload.expiresAt)
            props.withUnsafeBytes { _ = sqlite_nio_sqlite3_bind_blob(m, 7, $0.baseAddress, Int32($0.count), TRANSIENT) }
            try run(m)
            for s in 0..<b.subscribers {
                sqlite_nio_sqlite3_bind_int64(q, 1, Int64(s + 1)); sqlite_nio_sqlite3_bind_int64(q, 2, id); sqlite_nio_sqlite3_bind_int64(q, 3, id)
                try run(q)
            }
        }
        try run(try stmt("COMMIT"))
    }
    func delete(_ ops: ArraySlice<DeleteOp>) throws {
        let dq = try stmt(SQL.deleteQueue), dm = try stmt(SQL.deleteMessage)
        try run(try stmt("BEGIN"))
        for op in ops {
            switch op {
            case let .queue(s, seq): sqlite_nio_sqlite3_bind_int64(dq, 1, s); sqlite_nio_sqlite3_bind_int64(dq, 2, seq); try run(dq)
            case let .message(id): sqlite_nio_sqlite3_bind_int64(dm, 1, id); try run(dm)
            }
        }
        try run(try stmt("COMMIT"))
    }
    func restore() throws -> RestoreResult { throw RawError(code: 0, message: "not implemented") }
    func close() throws {
        for s in stmts.values { sqlite_nio_sqlite3_finalize(s) }
        stmts = [:]
        try check(sqlite_nio_sqlite3_close(db)); db = nil
    }
}

// MARK: - Per-statement overhead

func overhead(args: Args) throws {
    let n = args.int("n", 100_000)
    func report(_ path: String, _ secs: Double, _ count: Int) {
        emit([("bench", "overhead"), ("lib", "sqlite-nio"), ("path", path), ("n", count), ("ns_per_stmt", secs / Double(count) * 1e9)])
    }
    try onDedicatedThread {
        let c = try SQLiteConnection.open(storage: .memory).wait()
        let t0 = now()
        for i in 0..<n { _ = try c.query(SQL.noop, [.integer(i)]).wait() }
        report("query(sql,binds).wait() from dedicated thread (singleton pool)", now() - t0, n)
        let t1 = now()
        try blocking { for i in 0..<n { try await c.query(SQL.noop, [.integer(i)]) { _ in } } }
        report("try await conn.query(sql,binds){_ in} in a Task", now() - t1, n)
        let t1b = now()
        try blocking { for i in 0..<n { _ = try await c.query(SQL.noop, [.integer(i)]) } }
        report("try await conn.query(sql,binds) -> [SQLiteRow] in a Task", now() - t1b, n)
        try c.close().wait()

        let pool = NIOThreadPool(numberOfThreads: 1); pool.start()
        let c1 = try SQLiteConnection.open(storage: .memory, threadPool: pool, on: MultiThreadedEventLoopGroup.singleton.any()).wait()
        let t2 = now()
        for i in 0..<n { _ = try c1.query(SQL.noop, [.integer(i)]).wait() }
        report("query(sql,binds).wait() from dedicated thread (private 1-thread pool)", now() - t2, n)
        let t3 = now()
        var fs: [EventLoopFuture<[SQLiteRow]>] = []
        fs.reserveCapacity(n)
        for i in 0..<n { fs.append(c1.query(SQL.noop, [.integer(i)])) }
        for f in fs { _ = try f.wait() }
        report("pipelined: submit all, then wait (private 1-thread pool)", now() - t3, n)
        try c1.close().wait()
        try pool.syncShutdownGracefully()

        var raw: OpaquePointer?
        sqlite_nio_sqlite3_open(":memory:", &raw)
        var st: OpaquePointer?
        sqlite_nio_sqlite3_prepare_v2(raw, SQL.noop, -1, &st, nil)
        let t5 = now()
        for i in 0..<n { sqlite_nio_sqlite3_bind_int64(st, 1, Int64(i)); _ = sqlite_nio_sqlite3_step(st); sqlite_nio_sqlite3_reset(st) }
        emit([("bench", "overhead"), ("lib", "raw-bundled"), ("path", "sqlite3_bind/step/reset (C floor, bundled)"), ("n", n), ("ns_per_stmt", (now() - t5) / Double(n) * 1e9)])
        // prepare+finalize per statement, which is what sqlite-nio does on every call
        let t6 = now()
        for i in 0..<n {
            var s2: OpaquePointer?
            sqlite_nio_sqlite3_prepare_v3(raw, SQL.noop, -1, 0, &s2, nil)
            sqlite_nio_sqlite3_bind_int64(s2, 1, Int64(i)); _ = sqlite_nio_sqlite3_step(s2); sqlite_nio_sqlite3_finalize(s2)
        }
        emit([("bench", "overhead"), ("lib", "raw-bundled"), ("path", "prepare_v3/bind/step/finalize per call (C, bundled)"), ("n", n), ("ns_per_stmt", (now() - t6) / Double(n) * 1e9)])
        sqlite_nio_sqlite3_finalize(st); sqlite_nio_sqlite3_close(raw)
    }
}

// MARK: - Error cases

func describe(_ error: any Error) -> [(String, Any)] {
    var f: [(String, Any)] = [("type", String(reflecting: type(of: error))), ("description", "\(error)")]
    if let e = error as? SQLiteError {
        f += [("reason", "\(e.reason)"), ("message", e.message)]
    }
    return f
}

/// Waits at most `timeout` seconds; sqlite-nio's default busy handler retries forever.
func waitBounded<T>(_ f: EventLoopFuture<T>, timeout: Double) throws -> T? {
    let sem = DispatchSemaphore(value: 0)
    f.whenComplete { _ in sem.signal() }
    if sem.wait(timeout: .now() + timeout) == .timedOut { return nil }
    return try f.wait()
}


func errors(args: Args) throws {
    let kase = args.str("case", "full")
    let path = args.str("db", "/tmp/storespike/data/err-nio.db")
    let timeout = args.dbl("timeout", 5)
    let d = NIODriver(mode: .wait)
    func step(_ what: String, _ body: () throws -> Bool) {
        let t0 = now(), c0 = cpuSeconds()
        do {
            let finished = try body()
            emit([("bench", "errors"), ("lib", "sqlite-nio"), ("case", kase), ("step", what),
                  ("ok", finished), ("seconds", now() - t0), ("cpu_seconds", cpuSeconds() - c0)]
                 + (finished ? [] : [("description", "NO RESULT after \(timeout) s: still waiting (busy handler retries forever)")]))
        } catch {
            emit([("bench", "errors"), ("lib", "sqlite-nio"), ("case", kase), ("step", what), ("ok", false),
                  ("seconds", now() - t0), ("cpu_seconds", cpuSeconds() - c0)] + describe(error))
        }
    }
    func q(_ sql: String) throws -> Bool { try waitBounded(d.conn.query(sql, []), timeout: timeout) != nil }
    switch kase {
    case "full":
        removeDB(path)
        try d.open(path: path)
        for p in SQL.pragmas(journal: "WAL", sync: "NORMAL") + SQL.schema { try d.execute(p) }
        try d.execute("PRAGMA max_page_count=64")
        try d.prepareWorkload(payload: Workload.payload(size: 1024))
        var next: Int64 = 1
        step("insert 16-message batches until full") {
            while true { try d.write(WriteBatch(firstID: next, count: 16, subscribers: 1)); next += 16 }
        }
        step("explicit ROLLBACK after the failed group commit (caller must clean up; nothing does it for you)") { try q("ROLLBACK") }
        step("connection usable after SQLITE_FULL (raise limit, write again)") {
            try d.execute("PRAGMA max_page_count=100000")
            try d.write(WriteBatch(firstID: next, count: 16, subscribers: 1))
            return true
        }
        try d.close()
    case "busy":
        step("open while another process holds EXCLUSIVE lock") { try d.open(path: path); return true }
        if let ms = args.values["busy-timeout-ms"] {
            step("PRAGMA busy_timeout=\(ms) (replaces sqlite-nio's retry-forever busy handler)") { try q("PRAGMA busy_timeout=\(ms)") }
        }
        step("read while locked") { try q("SELECT count(*) FROM messages") }
        step("write while locked") { try q("INSERT INTO queue VALUES (999999, 1, 1)") }
        // A statement stuck in the busy handler keeps its pool thread; don't try to close, just exit.
        exit(0)
    default:
        step("open") { try d.open(path: path); return true }
        if d.conn != nil {
            step("first query (SELECT count(*) FROM messages)") { try q("SELECT count(*) FROM messages") }
            step("restore read") { _ = try d.restore(); return true }
            step("PRAGMA quick_check") {
                let rows = try d.conn.query("PRAGMA quick_check").wait()
                let vals = rows.compactMap { $0.columns.first?.data.string }
                if vals != ["ok"] { throw NSError(domain: "quick_check", code: 1, userInfo: [NSLocalizedDescriptionKey: String(vals.joined(separator: " | ").prefix(160))]) }
                return true
            }
        }
        exit(0)
    }
}

// MARK: - main

let args = Args()
func driver() -> StoreDriver {
    switch args.str("driver", "nio-wait") {
    case "raw": return RawDriver()
    case let m: return NIODriver(mode: Mode(rawValue: m) ?? .wait)
    }
}
do {
    switch args.command {
    case "write": try benchWrite(driver(), args: args)
    case "delete": try benchDelete(driver(), args: args)
    case "restore":
        let d = NIODriver(mode: .wait)
        d.restoreVariant = args.str("variant", "async-onRow")
        var a = args
        a.values["label"] = args.str("label", "") + "/" + d.restoreVariant
        try benchRestore(d, args: a)
    case "overhead": try overhead(args: args)
    case "errors": try errors(args: args)
    case "info": emit([("lib", "sqlite-nio"), ("sqlite_version", SQLiteConnection.libraryVersionString())])
    default: print(usage)
    }
} catch {
    emit([("fatal", "\(error)")])
    exit(1)
}
