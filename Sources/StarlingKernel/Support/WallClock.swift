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
