// What auth-http answers, in the header's terms.
import CStarlingPlugin

/// A final answer of the plugin (PENDING is not one: it is how the plugin says "later").
enum Decision: Sendable {
    case allow, deny, ignore

    /// The starling_decision value.
    var code: Int32 {
        switch self {
        case .allow: Int32(STARLING_ALLOW.rawValue)
        case .deny: Int32(STARLING_DENY.rawValue)
        case .ignore: Int32(STARLING_IGNORE.rawValue)
        }
    }

    var name: String {
        switch self {
        case .allow: "allow"
        case .deny: "deny"
        case .ignore: "ignore"
        }
    }
}

/// The plugin's answer to one call: decided now, or later through host->complete.
enum Verdict: Sendable {
    /// The server (or the cache) decided.
    case server(Decision)
    /// The exchange failed: `on_error` decides; `why` is logged.
    case failure(String)
}
