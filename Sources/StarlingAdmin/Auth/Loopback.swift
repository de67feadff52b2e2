import NIOCore

/// Tells loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x.x.x, `localhost`) from others.
public enum Loopback {
    /// True for `localhost` and loopback IP literals; false for anything else, host names included.
    public static func isLoopback(host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        guard let address = try? SocketAddress(ipAddress: host, port: 0) else { return false }
        return isLoopback(address)
    }

    /// True for a loopback IP address or a Unix domain socket (local by nature).
    public static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4: return address.ipAddress?.hasPrefix("127.") ?? false
        case .v6:
            guard let ip = address.ipAddress?.lowercased() else { return false }
            return ip == "::1" || ip.hasPrefix("::ffff:127.")
        case .unixDomainSocket: return true
        }
    }
}
