import MQTTCore

/// The notification hooks of the delivery path (`message_delivered`, `message_acked`,
/// `message_dropped`) and of sessions. Each check is a field load and an empty check on the loop's
/// own copy of the chain; the notice is built only when a hook is registered.
extension LoopContext {
    /// Counts a dropped message (or one subscriber's copy) and tells `message_dropped` hooks.
    @inline(__always)
    func noteDrop(_ reason: MessageDropReason, _ message: Message, subscriberId: String?, qos: QoS) {
        stats.dropped(reason)
        withHooks { hooks in
            guard !hooks.messageDropped.isEmpty else { return }
            let notice = MessageDropNotice(reason: reason, message: message, subscriberId: subscriberId, qos: qos)
            hooks.messageDropped.notifyAll { $0(notice) }
        }
    }

    /// Tells `message_delivered` hooks that `pending` was written to `subscriberId`.
    @inline(__always)
    func noteDelivered(_ pending: PendingMessage, to subscriberId: String, username: String?, packetId: UInt16?,
                       dup: Bool) {
        guard withHooks({ !$0.messageDelivered.isEmpty }) else { return }
        noteDelivery(\.messageDelivered, pending.message, pending.qos, pending.retain, subscriberId, username, packetId, dup)
    }

    /// Tells `message_delivered` hooks that a plugin's own subscription (`PluginSubscription`) took
    /// `message`, as for a client: the subscriber is named `plugin:NAME`, with no user name.
    @inline(__always)
    func noteDeliveredToPlugin(_ message: Message, qos: QoS, to owner: HookOwner) {
        guard withHooks({ !$0.messageDelivered.isEmpty }) else { return }
        noteDelivery(\.messageDelivered, message, qos, message.retain, "plugin:\(owner.name)", nil, nil, false)
    }

    /// Tells `message_acked` hooks that the subscriber acknowledged `pending` (PUBACK / PUBCOMP).
    @inline(__always)
    func noteAcked(_ pending: PendingMessage, by subscriberId: String, username: String?, packetId: UInt16) {
        guard withHooks({ !$0.messageAcked.isEmpty }) else { return }
        noteDelivery(\.messageAcked, pending.message, pending.qos, pending.retain, subscriberId, username, packetId, false)
    }

    private func noteDelivery(_ list: KeyPath<HookChains, HookList<MessageDeliveryHook>>, _ message: Message,
                              _ qos: QoS, _ retain: Bool, _ subscriberId: String, _ username: String?,
                              _ packetId: UInt16?, _ dup: Bool) {
        let notice = MessageDeliveryNotice(subscriberId: subscriberId, subscriberUsername: username,
                                           message: message, qos: qos, retain: retain, packetId: packetId, dup: dup)
        withHooks { $0[keyPath: list].notifyAll { $0(notice) } }
    }

    /// Tells the hooks of `list` (one of the session hook points) about `session`.
    func noteSession(_ list: KeyPath<HookChains, HookList<SessionHook>>, _ session: Session,
                     endReason: SessionEndReason? = nil) {
        withHooks { hooks in
            guard !hooks[keyPath: list].isEmpty else { return }
            let notice = SessionNotice(clientId: session.clientId, username: session.username,
                                       expiryInterval: session.expiryInterval, endReason: endReason)
            hooks[keyPath: list].notifyAll { $0(notice) }
        }
    }
}
