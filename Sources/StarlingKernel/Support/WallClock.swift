#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

extension NIODeadline {
    /// Seconds since 1970 (wall clock), for timestamps shown to operators.
    static var wallClockNow: Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec.tv_sec
    }
}

extension NIODeadline {
    /// Milliseconds since 1970 (wall clock), as `$SYS` events stamp them.
    static var wallClockMillisecondsNow: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// The wall clock now as an ISO 8601 UTC date and time to the second (`2026-11-20T17:05:09Z`).
    static var wallClockISO8601: String {
        var seconds = time_t(wallClockNow)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
            + "T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
