import CStarlingPlugin
import MQTTCore
import NIOCore
import StarlingKernel

/// `host->complete` and `host->complete_auth`: a plugin's later answer to a PENDING callback.
extension PluginInstance {
    /// Maps the C answer onto the kernel's and hands it to the ticket's connection.
    /// `authData` is nil for host->complete; `allowsContinue` only for host->complete_auth.
    func complete(ticket raw: UInt64, decision: Int32, value: Int32, authData: ByteBuffer?, allowsContinue: Bool) -> Int32 {
        let ticket = PendingTicket(raw)
        guard let hook = ticket.hook else { return StarlingStatus.notFound }
        var completion: HookCompletion
        switch UInt32(bitPattern: decision) {
        case STARLING_ALLOW.rawValue: completion = HookCompletion(.allow)
        case STARLING_IGNORE.rawValue: completion = HookCompletion(.ignore)
        case STARLING_DENY.rawValue: completion = HookCompletion(.deny(denyCode(hook, value)))
        case STARLING_CONTINUE.rawValue where allowsContinue:
            guard hook == .enhancedAuth else { return StarlingStatus.invalid }
            completion = HookCompletion(.allow, continueAuthentication: true)
        default:
            return StarlingStatus.invalid
        }
        if hook == .authorizeSubscribe, (0...2).contains(value) { completion.qos = QoS(rawValue: UInt8(value)) }
        if hook == .enhancedAuth { completion.authenticationData = authData }
        return broker.hooks.complete(ticket, by: owner, completion) ? StarlingStatus.ok : StarlingStatus.notFound
    }

    /// The reason code of a DENY given later: the hook's preset for 0, else as the event's.
    private func denyCode(_ hook: PendingHook, _ value: Int32) -> ReasonCode {
        switch hook {
        case .authorizePublish, .authorizeSubscribe: return .notAuthorized
        case .authenticate where value == 0: return .badUserNameOrPassword
        case .clientConnect, .enhancedAuth, .authenticate:
            return value == 0 ? .notAuthorized : CHookBridge.connAckRefusal(value, instance: self)
        }
    }
}
