// auth-http: asks an HTTP endpoint whether a client may connect, publish and subscribe — like
// EMQX's HTTP authentication/authorization and mosquitto-go-auth's HTTP backend — without ever
// stalling an event loop: a question that is not in the cache is answered STARLING_PENDING, and
// URLSession's completion handler gives the answer through host->complete. Options: README.md.
//
// Build (from the repository root; see README.md):
//   swiftc -emit-library -parse-as-library -module-name AuthHTTP -Iinclude \
//          -o plugins/auth-http/auth-http.so plugins/auth-http/*.swift
//
// All state lives in one AuthHTTP object handed to the broker as user_data: during a reload the
// old and the new copy of this image (never unmapped) run side by side, each with its own.
import CStarlingPlugin
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One loaded copy of the plugin: its options, cache and URLSession. Retained by the broker's
/// user_data from init until cleanup.
final class AuthHTTP: @unchecked Sendable {  // immutable after init; cache and asker lock themselves
    let host: UnsafePointer<starling_host_api>  // valid until cleanup returns
    let plugin: OpaquePointer?
    let options: AuthHTTPOptions
    let cache: DecisionCache?
    let asker: HTTPAsker

    /// The MQTT 5 CONNACK reason code when on_error denies a connection: not authorized (3.1.1: 5).
    static let errorReasonCode: Int32 = 0x87

    init(host: UnsafePointer<starling_host_api>, plugin: OpaquePointer?, options: AuthHTTPOptions) {
        self.host = host
        self.plugin = plugin
        self.options = options
        cache = DecisionCache(ttlMilliseconds: options.cacheTTLMilliseconds, maxSize: options.cacheMaxSize)
        asker = HTTPAsker(timeoutMilliseconds: options.timeoutMilliseconds)
    }

    func log(_ level: starling_log_level, _ message: String) {
        message.withCString { host.pointee.log(plugin, Int32(level.rawValue), $0) }
    }

    /// What a hook callback returns now.
    enum Answer {
        case decided(Decision, failed: Bool)
        case pending
    }

    /// Answers `query` from the cache, or asks `url` and answers PENDING; the server's verdict
    /// then completes `ticket` with `value(decision, failed)` as host->complete's value.
    /// A ticket of 0 (the broker cannot wait for this call) is answered by on_error at once.
    func decide(_ query: Query, url: URL, ticket: UInt64, who: String,
                value: @escaping @Sendable (Decision, _ failed: Bool) -> Int32) -> Answer {
        let key = cache == nil ? "" : query.cacheKey
        if let cached = cache?.decision(for: key) { return .decided(cached, failed: false) }
        guard ticket != 0 else {
            log(STARLING_LOG_WARNING, "\(who): the broker cannot wait for this call (no ticket); on_error = \(options.onError.name)")
            return .decided(options.onError, failed: true)
        }
        guard let request = query.request(to: url, method: options.method, headers: options.headers) else {
            log(STARLING_LOG_WARNING, "\(who): cannot build the request; on_error = \(options.onError.name)")
            return .decided(options.onError, failed: true)
        }
        let method = options.method.rawValue
        asker.ask(request) { [self] verdict in
            let decision: Decision
            let failed: Bool
            switch verdict {
            case .server(let answer):
                decision = answer
                failed = false
                cache?.store(answer, for: key)
                log(STARLING_LOG_DEBUG, "\(who): \(answer.name)")
            case .failure(let why):
                decision = options.onError
                failed = true
                log(STARLING_LOG_WARNING, "\(who): \(method) \(url.absoluteString) failed: \(why); on_error = \(decision.name)")
            }
            let status = host.pointee.complete(plugin, ticket, decision.code, value(decision, failed))
            if status != STARLING_OK.rawValue {
                log(STARLING_LOG_DEBUG, "\(who): ticket \(ticket) no longer open (\(status)): the broker answered already")
            }
        }
        return .pending
    }

    /// host->complete exists (ABI 1.2): without it the plugin cannot answer later.
    static func hostCanComplete(_ host: UnsafePointer<starling_host_api>) -> Bool {
        host.pointee.struct_size >= MemoryLayout<starling_host_api>.offset(of: \.complete)!
            + MemoryLayout<starling_host_api>.size(ofMember: \.complete)
    }
}

extension MemoryLayout {
    /// The size of a stored property, for STARLING_HAS_MEMBER-style checks.
    static func size<Member>(ofMember _: KeyPath<T, Member>) -> Int { MemoryLayout<Member>.size }
}

/// True when the broker's event of type `Event` is large enough to hold the field at `ticket`
/// (STARLING_HAS_MEMBER): an older broker's event has no ticket, which reads as 0.
func ticket<Event>(of event: UnsafePointer<Event>, size: Int, at ticket: KeyPath<Event, UInt64>) -> UInt64 {
    guard let offset = MemoryLayout<Event>.offset(of: ticket), size >= offset + 8 else { return 0 }
    return event.pointee[keyPath: ticket]
}
