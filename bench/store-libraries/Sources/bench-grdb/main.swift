// GRDB.swift 7.10.0 (system libsqlite3) driver + a raw C-API reference driver on the same system libsqlite3.
import Common
import Foundation
import GRDB
import GRDBSQLite

// MARK: - GRDB driver: DatabaseQueue, one `write {}` (= one transaction) per group commit, cached statements.

final class GRDBDriver: StoreDriver {
    let name = "grdb"
    var dbq: DatabaseQueue!
    var payload = Data()
    var props = Data()
    // allowsUnsafeTransactions: only so the shared setup code can send "BEGIN" and "COMMIT" as two separate
    // execute() calls; the measured write/delete paths use dbq.write {} (one transaction per call).
    var config: Configuration = { var c = Configuration(); c.allowsUnsafeTransactions = true; return c }()

    func open(path: String) throws {
        dbq = try DatabaseQueue(path: path, configuration: config)
    }
    func execute(_ sql: String) throws {
        // writeWithoutTransaction: raw connection access, no implicit BEGIN/COMMIT (we send our own).
        try dbq.writeWithoutTransaction { db in try db.execute(sql: sql) }
    }
    func prepareWorkload(payload: [UInt8]) throws {
        self.payload = Data(payload)
        self.props = Data(Workload.props)
    }
    func write(_ b: WriteBatch) throws {
        try dbq.write { db in
            let m = try db.cachedStatement(sql: SQL.insertMessage)
            let q = try db.cachedStatement(sql: SQL.insertQueue)
            for i in 0..<b.count {
                let id = b.firstID + Int64(i)
                try m.execute(arguments: [id, b.topic(id), payload, 1, 0, Workload.expiresAt, props])
                for s in 0..<b.subscribers {
                    try q.execute(arguments: [Int64(s + 1), id, id])
                }
            }
        }
    }
    func delete(_ ops: ArraySlice<DeleteOp>) throws {
        try dbq.write { db in
            let dq = try db.cachedStatement(sql: SQL.deleteQueue)
            let dm = try db.cachedStatement(sql: SQL.deleteMessage)
            for op in ops {
                switch op {
                case let .queue(s, seq): try dq.execute(arguments: [s, seq])
                case let .message(id): try dm.execute(arguments: [id])
                }
            }
        }
    }
    struct Msg { var id: Int64; var topic: String; var payload: Data; var qos: Int; var retain: Bool; var expiresAt: Int64; var props: Data? }
    struct QRow { var session: Int64; var seq: Int64; var message: Int64 }
    struct Sess { var id: Int64; var clientID: String; var expiry: Int64; var state: Data? }

    func restore() throws -> RestoreResult {
        try dbq.read { db in
            var msgs: [Msg] = [], q: [QRow] = [], sess: [Sess] = []
            var bytes = 0
            let mc = try Row.fetchCursor(db, sql: SQL.selectMessages)
            while let r = try mc.next() {
                let p: Data = r[2]
                bytes += p.count
                msgs.append(Msg(id: r[0], topic: r[1], payload: p, qos: r[3], retain: r[4], expiresAt: r[5], props: r[6]))
            }
            let qc = try Row.fetchCursor(db, sql: SQL.selectQueue)
            while let r = try qc.next() { q.append(QRow(session: r[0], seq: r[1], message: r[2])) }
            let sc = try Row.fetchCursor(db, sql: SQL.selectSessions)
            while let r = try sc.next() { sess.append(Sess(id: r[0], clientID: r[1], expiry: r[2], state: r[3])) }
            return RestoreResult(messages: msgs.count, queueRows: q.count, sessions: sess.count, payloadBytes: bytes, keep: [msgs, q, sess] as [Any])
        }
    }
    func close() throws { try dbq.close(); dbq = nil }
}

// MARK: - Raw C reference driver (system libsqlite3 through the GRDBSQLite module). Not a candidate: a floor.

let TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

struct RawError: Error, CustomStringConvertible { var code: Int32; var message: String; var description: String { "raw sqlite3 error \(code): \(message)" } }

final class RawDriver: StoreDriver {
    let name = "raw-system"
    var db: OpaquePointer?
    var stmts: [String: OpaquePointer] = [:]
    var payload: [UInt8] = []
    let props = Workload.props

    func check(_ rc: Int32) throws {
        if rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW {
            throw RawError(code: rc, message: String(cString: sqlite3_errmsg(db)))
        }
    }
    func open(path: String) throws {
        try check(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil))
        sqlite3_extended_result_codes(db, 1)
    }
    func execute(_ sql: String) throws { try check(sqlite3_exec(db, sql, nil, nil, nil)) }
    func stmt(_ sql: String) throws -> OpaquePointer {
        if let s = stmts[sql] { return s }
        var s: OpaquePointer?
        try check(sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil))
        stmts[sql] = s!
        return s!
    }
    func prepareWorkload(payload: [UInt8]) throws { self.payload = payload }
    @inline(__always) func run(_ s: OpaquePointer) throws {
        let rc = sqlite3_step(s)
        sqlite3_reset(s)
        if rc != SQLITE_DONE { try check(rc); }
    }
    func write(_ b: WriteBatch) throws {
        let m = try stmt(SQL.insertMessage), q = try stmt(SQL.insertQueue)
        let begin = try stmt("BEGIN"), commit = try stmt("COMMIT")
        try run(begin)
        for i in 0..<b.count {
            let id = b.firstID + Int64(i)
            sqlite3_bind_int64(m, 1, id)
            sqlite3_bind_text(m, 2, b.topic(id), -1, TRANSIENT)
            payload.withUnsafeBytes { _ = sqlite3_bind_blob(m, 3, $0.baseAddress, Int32($0.count), TRANSIENT) }
            sqlite3_bind_int64(m, 4, 1)
            sqlite3_bind_int64(m, 5, 0)
            sqlite3_bind_int64(m, 6, Workload.expiresAt)
            props.withUnsafeBytes { _ = sqlite3_bind_blob(m, 7, $0.baseAddress, Int32($0.count), TRANSIENT) }
            try run(m)
            for s in 0..<b.subscribers {
                sqlite3_bind_int64(q, 1, Int64(s + 1)); sqlite3_bind_int64(q, 2, id); sqlite3_bind_int64(q, 3, id)
                try run(q)
            }
        }
        try run(commit)
    }
    func delete(_ ops: ArraySlice<DeleteOp>) throws {
        let dq = try stmt(SQL.deleteQueue), dm = try stmt(SQL.deleteMessage)
        try run(try stmt("BEGIN"))
        for op in ops {
            switch op {
            case let .queue(s, seq): sqlite3_bind_int64(dq, 1, s); sqlite3_bind_int64(dq, 2, seq); try run(dq)
            case let .message(id): sqlite3_bind_int64(dm, 1, id); try run(dm)
            }
        }
        try run(try stmt("COMMIT"))
    }
    func restore() throws -> RestoreResult { throw RawError(code: 0, message: "not implemented") }
    func close() throws {
        for s in stmts.values { sqlite3_finalize(s) }
        stmts = [:]
        try check(sqlite3_close(db)); db = nil
    }
}

// MARK: - Per-statement overhead of the synchronous paths

func overhead(args: Args) throws {
    let n = args.int("n", 200_000)
    func report(_ path: String, _ secs: Double, _ count: Int) {
        emit([("bench", "overhead"), ("lib", "grdb"), ("path", path), ("n", count), ("ns_per_stmt", secs / Double(count) * 1e9)])
    }
    try onDedicatedThread {
        let dbq = try DatabaseQueue() // in-memory
        // 1. cached statement inside one long-lived inDatabase closure (writer thread owns the connection)
        try dbq.inDatabase { db in
            let s = try db.cachedStatement(sql: SQL.noop)
            let t0 = now()
            for i in 0..<n { try s.execute(arguments: [i]) }
            report("inDatabase{ cachedStatement.execute(arguments:) } (held connection)", now() - t0, n)
            let t1 = now()
            for i in 0..<n { s.setUncheckedArguments([i]); try s.execute() }
            report("inDatabase{ setUncheckedArguments+execute() } (held connection)", now() - t1, n)
            let t2 = now()
            for i in 0..<n { try db.execute(sql: SQL.noop, arguments: [i]) }
            report("inDatabase{ db.execute(sql:arguments:) } (re-prepare each time)", now() - t2, n)
        }
        // 2. one queue hop per statement
        let t3 = now()
        for i in 0..<n { try dbq.inDatabase { db in try db.cachedStatement(sql: SQL.noop).execute(arguments: [i]) } }
        report("dbQueue.inDatabase{} per statement (queue hop + cache lookup)", now() - t3, n)
        // 3. one transaction per statement (what commit size 1 pays on top)
        let t4 = now()
        for i in 0..<n { try dbq.write { db in try db.cachedStatement(sql: SQL.noop).execute(arguments: [i]) } }
        report("dbQueue.write{} per statement (hop + BEGIN/COMMIT, in-memory)", now() - t4, n)
        try dbq.close()
        // 4. raw C floor
        var raw: OpaquePointer?
        sqlite3_open(":memory:", &raw)
        var st: OpaquePointer?
        sqlite3_prepare_v2(raw, SQL.noop, -1, &st, nil)
        let t5 = now()
        for i in 0..<n { sqlite3_bind_int64(st, 1, Int64(i)); _ = sqlite3_step(st); sqlite3_reset(st) }
        emit([("bench", "overhead"), ("lib", "raw-system"), ("path", "sqlite3_bind/step/reset (C floor)"), ("n", n), ("ns_per_stmt", (now() - t5) / Double(n) * 1e9)])
        sqlite3_finalize(st); sqlite3_close(raw)
    }
}

// MARK: - Error cases

func describe(_ error: any Error) -> [(String, Any)] {
    var f: [(String, Any)] = [("type", String(reflecting: type(of: error))), ("description", "\(error)")]
    if let e = error as? DatabaseError {
        f += [("resultCode", "\(e.resultCode)"), ("resultCodeRaw", Int(e.resultCode.rawValue)),
              ("extendedResultCode", "\(e.extendedResultCode)"), ("extendedRaw", Int(e.extendedResultCode.rawValue)),
              ("message", e.message ?? "nil"), ("sql", e.sql ?? "nil")]
    }
    return f
}

func errors(args: Args) throws {
    let kase = args.str("case", "full")
    let path = args.str("db", "/tmp/storespike/data/err-grdb.db")
    let d = GRDBDriver()
    func step(_ what: String, _ body: () throws -> Void) {
        let t0 = now()
        do { try body(); emit([("bench", "errors"), ("lib", "grdb"), ("case", kase), ("step", what), ("ok", true), ("seconds", now() - t0)]) }
        catch { emit([("bench", "errors"), ("lib", "grdb"), ("case", kase), ("step", what), ("ok", false), ("seconds", now() - t0)] + describe(error)) }
    }
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
        step("connection usable after SQLITE_FULL (raise limit, write again)") {
            try d.execute("PRAGMA max_page_count=100000")
            try d.write(WriteBatch(firstID: next, count: 16, subscribers: 1))
        }
        try d.close()
    case "busy":
        // Another process holds the file with locking_mode=EXCLUSIVE (see run-errors.sh).
        if let ms = args.values["busy-timeout-ms"] { d.config.busyMode = .timeout(Double(ms)! / 1000) }
        step("open (DatabaseQueue init) while another process holds EXCLUSIVE lock") { try d.open(path: path) }
        if d.dbq != nil {
            step("read while locked") { _ = try d.dbq.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") } }
            try? d.prepareWorkload(payload: Workload.payload(size: 16))
            step("write while locked") { try d.write(WriteBatch(firstID: 1_000_000_000, count: 1, subscribers: 1)) }
        }
    default: // corrupt, random, notadb: file prepared by run-errors.sh
        step("open (DatabaseQueue init)") { try d.open(path: path) }
        if d.dbq != nil {
            step("restore read") { _ = try d.restore() }
            step("PRAGMA quick_check") {
                let r = try d.dbq.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
                if r != ["ok"] { throw NSError(domain: "quick_check", code: 1, userInfo: [NSLocalizedDescriptionKey: String(r.joined(separator: " | ").prefix(160))]) }
            }
        }
    }
}

// MARK: - main

let args = Args()
do {
    switch args.command {
    case "write": try benchWrite(args.str("driver", "grdb") == "raw" ? RawDriver() : GRDBDriver(), args: args)
    case "delete": try benchDelete(args.str("driver", "grdb") == "raw" ? RawDriver() : GRDBDriver(), args: args)
    case "restore": try benchRestore(GRDBDriver(), args: args)
    case "mkrestore": try makeRestoreFile(GRDBDriver(), args: args)
    case "overhead": try overhead(args: args)
    case "errors": try errors(args: args)
    case "info": emit([("lib", "grdb"), ("sqlite_version", String(cString: sqlite3_libversion()))])
    default: print(usage)
    }
} catch {
    emit([("fatal", "\(error)")])
    exit(1)
}
