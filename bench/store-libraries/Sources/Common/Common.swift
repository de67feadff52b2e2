// Shared workload definition, timing, RSS and result printing for the store spike.
// Each library executable (bench-grdb, bench-nio) implements `StoreDriver`;
// the loops below are identical for every driver, so the SQL work is the same.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

// MARK: - Schema and SQL (identical text for all drivers)

public enum SQL {
    public static let schema: [String] = [
        "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, topic TEXT, payload BLOB, qos INT, retain INT, expires_at INT, props BLOB)",
        "CREATE TABLE IF NOT EXISTS queue(session_id INT, seq INT, message_id INT, PRIMARY KEY(session_id, seq)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS sessions(id INTEGER PRIMARY KEY, client_id TEXT UNIQUE, expiry INT, state BLOB)",
    ]
    public static let insertMessage = "INSERT INTO messages(id, topic, payload, qos, retain, expires_at, props) VALUES (?, ?, ?, ?, ?, ?, ?)"
    public static let insertQueue = "INSERT INTO queue(session_id, seq, message_id) VALUES (?, ?, ?)"
    public static let insertSession = "INSERT INTO sessions(id, client_id, expiry, state) VALUES (?, ?, ?, ?)"
    public static let deleteQueue = "DELETE FROM queue WHERE session_id = ? AND seq = ?"
    public static let deleteMessage = "DELETE FROM messages WHERE id = ?"
    public static let selectMessages = "SELECT id, topic, payload, qos, retain, expires_at, props FROM messages ORDER BY id"
    public static let selectQueue = "SELECT session_id, seq, message_id FROM queue ORDER BY session_id, seq"
    public static let selectSessions = "SELECT id, client_id, expiry, state FROM sessions ORDER BY id"
    /// Statement used for the per-statement overhead micro-benchmark: prepares, binds, steps, returns no row.
    public static let noop = "SELECT ?1 WHERE 0"

    public static func pragmas(journal: String, sync: String) -> [String] {
        ["PRAGMA journal_mode=\(journal)", "PRAGMA synchronous=\(sync)"]
    }
}

// MARK: - Workload data

public enum Workload {
    /// 1024 distinct topics, like "site/17/device/403/telemetry".
    public static let topics: [String] = (0..<1024).map { "site/\($0 % 32)/device/\($0)/telemetry" }
    public static func payload(size: Int) -> [UInt8] {
        var g = SplitMix64(seed: 42)
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    }
    /// MQTT v5 properties blob stand-in (content-type + one user property).
    public static let props: [UInt8] = Array("\u{03}\u{00}\u{10}application/json\u{26}\u{00}\u{02}k1\u{00}\u{02}v1".utf8)
    public static let expiresAt: Int64 = 1_900_000_000
    public static let sessionState: [UInt8] = Array(repeating: 0xA5, count: 32)
}

public struct SplitMix64 {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One group commit: messages [firstID, firstID+count), each fanned out to `subscribers` queue rows.
public struct WriteBatch {
    public var firstID: Int64
    public var count: Int
    public var subscribers: Int
    public init(firstID: Int64, count: Int, subscribers: Int) {
        self.firstID = firstID; self.count = count; self.subscribers = subscribers
    }
    @inline(__always) public func topic(_ id: Int64) -> String { Workload.topics[Int(id & 1023)] }
}

/// A delete operation; batches of 256 of these form one transaction.
public enum DeleteOp {
    case queue(session: Int64, seq: Int64)
    case message(id: Int64)
}

public struct RestoreResult {
    public var messages: Int
    public var queueRows: Int
    public var sessions: Int
    public var payloadBytes: Int
    public var keep: Any   // keeps the arrays alive until RSS is read
    public init(messages: Int, queueRows: Int, sessions: Int, payloadBytes: Int, keep: Any) {
        self.messages = messages; self.queueRows = queueRows; self.sessions = sessions
        self.payloadBytes = payloadBytes; self.keep = keep
    }
}

/// What each library executable implements. All calls are made from ONE dedicated writer thread.
public protocol StoreDriver: AnyObject {
    var name: String { get }
    func open(path: String) throws
    func execute(_ sql: String) throws
    func prepareWorkload(payload: [UInt8]) throws   // prepare/cached statements, native payload buffers
    func write(_ batch: WriteBatch) throws          // ONE transaction
    func delete(_ ops: ArraySlice<DeleteOp>) throws // ONE transaction
    func restore() throws -> RestoreResult
    func close() throws
}

// MARK: - Measurement helpers

public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Process CPU time (user+sys, all threads) in seconds: less sensitive than wall time to the other job on the box.
public func cpuSeconds() -> Double {
    var ru = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
    return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
}

public func procStatus(_ key: String) -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in s.split(separator: "\n") where line.hasPrefix(key + ":") {
        let digits = line.split(separator: " ").dropFirst().first { Int($0) != nil }
        return digits.flatMap { Int($0) } ?? -1   // kB
    }
    return -1
}

public func removeDB(_ path: String) {
    for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
}

public func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

/// Emit one JSON object per line on stdout; the harness collects them.
public func emit(_ fields: [(String, Any)]) {
    var parts: [String] = []
    for (k, v) in fields {
        let value: String
        switch v {
        case let s as String: value = "\"\(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n"))\""
        case let d as Double: value = String(format: "%.3f", d)
        default: value = "\(v)"
        }
        parts.append("\"\(k)\":\(value)")
    }
    print("{" + parts.joined(separator: ",") + "}")
    fflush(stdout)
}

public final class ResultBox<T>: @unchecked Sendable { public var result: Result<T, any Error>?; public init() {} }

/// Run `body` on a dedicated (non-main, non-event-loop) thread and wait for it.
public func onDedicatedThread<T>(_ body: @escaping () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let t = Thread {
        box.result = Result { try body() }
        done.signal()
    }
    t.name = "store-writer"
    t.stackSize = 8 << 20
    t.start()
    done.wait()
    return try box.result!.get()
}

// MARK: - Argument parsing (tiny)

public struct Args {
    public var values: [String: String] = [:]
    public var command: String
    public init() {
        let a = CommandLine.arguments.dropFirst()
        command = a.first ?? "help"
        for arg in a.dropFirst() where arg.hasPrefix("--") {
            let kv = arg.dropFirst(2).split(separator: "=", maxSplits: 1)
            values[String(kv[0])] = kv.count > 1 ? String(kv[1]) : "1"
        }
    }
    public func str(_ k: String, _ d: String) -> String { values[k] ?? d }
    public func int(_ k: String, _ d: Int) -> Int { values[k].flatMap { Int($0) } ?? d }
    public func dbl(_ k: String, _ d: Double) -> Double { values[k].flatMap { Double($0) } ?? d }
}

// MARK: - The workloads (same for every driver)

public func setupDB(_ d: StoreDriver, path: String, journal: String, sync: String, subscribers: Int, extraPragmas: [String] = []) throws {
    removeDB(path)
    try d.open(path: path)
    for p in SQL.pragmas(journal: journal, sync: sync) + extraPragmas { try d.execute(p) }
    for s in SQL.schema { try d.execute(s) }
    // The subscribers' session rows.
    try d.execute("BEGIN")
    for s in 1...max(1, subscribers) {
        try d.execute("INSERT INTO sessions(id, client_id, expiry, state) VALUES (\(s), 'client-\(s)', 3600, x'A5A5')")
    }
    try d.execute("COMMIT")
}

/// 1 + 2: group-commit write throughput.
public func benchWrite(_ d: StoreDriver, args: Args) throws {
    let path = args.str("db", "/tmp/storespike/data/write.db")
    let journal = args.str("journal", "WAL")
    let sync = args.str("sync", "NORMAL")
    let subs = args.int("subs", 1)
    let payloadSize = args.int("payload", 16)
    let commit = args.int("commit", 1)
    let budget = args.dbl("seconds", 3)
    let maxMessages = args.int("max", 3_000_000)
    let extra = args.values["pragma"].map { [$0] } ?? []

    let r: (Int, Int, Double, Double) = try onDedicatedThread {
        try setupDB(d, path: path, journal: journal, sync: sync, subscribers: subs, extraPragmas: extra)
        try d.prepareWorkload(payload: Workload.payload(size: payloadSize))
        var next: Int64 = 1
        var commits = 0
        let c0 = cpuSeconds()
        let t0 = now()
        var elapsed = 0.0
        repeat {
            try d.write(WriteBatch(firstID: next, count: commit, subscribers: subs))
            next += Int64(commit)
            commits += 1
            elapsed = now() - t0
        } while elapsed < budget && Int(next) - 1 + commit <= maxMessages
        let cpu = cpuSeconds() - c0
        try d.close()
        return (Int(next) - 1, commits, elapsed, cpu)
    }
    let (msgs, commits, secs, cpu) = r
    emit([("bench", "write"), ("lib", d.name), ("journal", journal), ("sync", sync), ("subs", subs),
          ("payload", payloadSize), ("commit", commit), ("messages", msgs), ("rows", msgs * (1 + subs)),
          ("commits", commits), ("seconds", secs), ("msgs_per_s", Double(msgs) / secs),
          ("commits_per_s", Double(commits) / secs), ("rows_per_s", Double(msgs * (1 + subs)) / secs),
          ("cpu_s", cpu), ("cpu_us_per_msg", cpu / Double(msgs) * 1e6),
          ("db_bytes", fileSize(path)), ("extra", extra.joined(separator: ";"))])
    removeDB(path)
}

/// 3: deletion of acknowledged queue rows + messages whose last reference is gone, batches of 256 deletes.
public func benchDelete(_ d: StoreDriver, args: Args) throws {
    let path = args.str("db", "/tmp/storespike/data/delete.db")
    let subs = args.int("subs", 1)
    let payloadSize = args.int("payload", 1024)
    let messages = args.int("messages", 100_000)
    let batch = args.int("batch", 256)
    let extra = args.values["pragma"].map { [$0] } ?? []
    let budget = args.dbl("seconds", 20)

    let r: (Int, Int, Int, Double, Double) = try onDedicatedThread {
        try setupDB(d, path: path, journal: "WAL", sync: "NORMAL", subscribers: subs, extraPragmas: extra)
        try d.prepareWorkload(payload: Workload.payload(size: payloadSize))
        var next: Int64 = 1
        while Int(next) <= messages {
            let n = min(4096, messages - Int(next) + 1)
            try d.write(WriteBatch(firstID: next, count: n, subscribers: subs))
            next += Int64(n)
        }
        try d.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        // Acks arrive in delivery order: message 1 for every subscriber, then message 2, ...
        // The broker keeps an in-memory reference count; when it hits 0 the message row goes too.
        var ops: [DeleteOp] = []
        ops.reserveCapacity(messages * (subs + 1))
        var refs = [Int](repeating: subs, count: messages + 1)
        for id in 1...messages {
            for s in 1...subs {
                ops.append(.queue(session: Int64(s), seq: Int64(id)))
                refs[id] -= 1
                if refs[id] == 0 { ops.append(.message(id: Int64(id))) }
            }
        }
        var done = 0, txs = 0
        let c0 = cpuSeconds()
        let t0 = now()
        var elapsed = 0.0
        while done < ops.count && elapsed < budget {
            let end = min(done + batch, ops.count)
            try d.delete(ops[done..<end])
            done = end; txs += 1
            elapsed = now() - t0
        }
        let cpu = cpuSeconds() - c0
        try d.close()
        return (done, txs, ops.count, elapsed, cpu)
    }
    let (rows, txs, total, secs, cpu) = r
    emit([("bench", "delete"), ("lib", d.name), ("subs", subs), ("payload", payloadSize), ("batch", batch),
          ("rows", rows), ("rows_total", total), ("transactions", txs), ("seconds", secs),
          ("rows_per_s", Double(rows) / secs), ("cpu_s", cpu), ("cpu_us_per_row", cpu / Double(rows) * 1e6), ("extra", extra.joined(separator: ";"))])
    removeDB(path)
}

/// 4: read everything back in key order into Swift arrays.
public func benchRestore(_ d: StoreDriver, args: Args) throws {
    let path = args.str("db", "/tmp/storespike/data/restore.db")
    let label = args.str("label", "")
    let rssBefore = procStatus("VmRSS")
    let c0 = cpuSeconds()
    let r: (RestoreResult, Double, Double) = try onDedicatedThread {
        let t0 = now()
        try d.open(path: path)
        let t1 = now()
        let res = try d.restore()
        let t2 = now()
        try d.close()
        return (res, t1 - t0, t2 - t1)
    }
    let (res, openSecs, readSecs) = r
    let cpu = cpuSeconds() - c0
    emit([("bench", "restore"), ("lib", d.name), ("label", label), ("messages", res.messages), ("queue_rows", res.queueRows),
          ("sessions", res.sessions), ("payload_bytes", res.payloadBytes), ("open_s", openSecs), ("read_s", readSecs), ("cpu_s", cpu),
          ("rss_before_kb", rssBefore), ("vmhwm_kb", procStatus("VmHWM")), ("vmrss_kb", procStatus("VmRSS")),
          ("db_bytes", fileSize(path))])
    withExtendedLifetime(res.keep) {}
}

/// Build the restore file: 100k sessions, 100k messages, 1M queue rows (each message referenced by 10 sessions).
public func makeRestoreFile(_ d: StoreDriver, args: Args) throws {
    let path = args.str("db", "/tmp/storespike/data/restore.db")
    let sessions = args.int("sessions", 100_000)
    let messages = args.int("messages", 100_000)
    let perSession = args.int("per-session", 10)
    let payload = args.int("payload", 1024)
    try onDedicatedThread {
        removeDB(path)
        try d.open(path: path)
        for p in SQL.pragmas(journal: "WAL", sync: "NORMAL") { try d.execute(p) }
        for s in SQL.schema { try d.execute(s) }
        try d.prepareWorkload(payload: Workload.payload(size: payload))
        // messages (subscribers: 0 -> message rows only)
        var next: Int64 = 1
        while Int(next) <= messages {
            let n = min(4096, messages - Int(next) + 1)
            try d.write(WriteBatch(firstID: next, count: n, subscribers: 0))
            next += Int64(n)
        }
        try d.execute("BEGIN")
        for s in 1...sessions {
            try d.execute("INSERT INTO sessions(id, client_id, expiry, state) VALUES (\(s), 'client-\(s)', 3600, x'\(String(repeating: "A5", count: 32))')")
        }
        try d.execute("COMMIT")
        try d.execute("BEGIN")
        for s in 0..<sessions {
            for k in 0..<perSession {
                let mid = (s * perSession + k) % messages + 1
                try d.execute("INSERT INTO queue VALUES (\(s + 1), \(k + 1), \(mid))")
            }
        }
        try d.execute("COMMIT")
        try d.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try d.close()
    }
    emit([("bench", "mkrestore"), ("lib", d.name), ("db_bytes", fileSize(path))])
}

public let usage = """
    commands:
      write    --journal=WAL|DELETE --sync=NORMAL|FULL --subs=N --payload=B --commit=N --seconds=S [--max=N] [--pragma=SQL]
      delete   --subs=N --payload=B --messages=N [--batch=256] [--pragma=SQL]
      restore  [--db=PATH] [--label=warm|cold]
      mkrestore [--db=PATH]
      overhead [--n=N]
      errors   --case=full|busy|corrupt|random|notadb [--db=PATH] [--busy-timeout-ms=N]
      info
    """
