import MQTTCore

public typealias AuthenticateHook = @Sendable (AuthenticationRequest) -> HookDecision
/// Gets the PUBLISH (topic alias resolved) beside the request, borrowed.
public typealias AuthorizePublishHook = @Sendable (borrowing PublishAuthorizationRequest, borrowing Publish) -> HookDecision
/// May lower `request.qos` when it does not deny.
public typealias AuthorizeSubscribeHook = @Sendable (inout SubscribeAuthorizationRequest) -> HookDecision
public typealias ClientConnectHook = @Sendable (inout ClientConnectRequest) -> HookDecision
public typealias EnhancedAuthHook = @Sendable (inout EnhancedAuthRequest) -> EnhancedAuthDecision
public typealias ClientConnectedHook = @Sendable (ClientConnectedNotice) -> Void
public typealias ClientDisconnectedHook = @Sendable (ClientDisconnectedNotice) -> Void
/// May change the message (see `MessagePublishRequest`); `.stop` drops it.
public typealias MessagePublishHook = @Sendable (inout MessagePublishRequest) -> HookResult
public typealias MessageDeliveryHook = @Sendable (MessageDeliveryNotice) -> Void
public typealias MessageDroppedHook = @Sendable (MessageDropNotice) -> Void
/// May rewrite `request.filter`; `.stop` refuses the filter.
public typealias SubscriptionHook = @Sendable (inout SubscriptionRequest) -> HookResult
public typealias SessionHook = @Sendable (SessionNotice) -> Void

/// One registered hook. A class, immutable: a chain run reaches its handler through a borrowed
/// reference, so calling a hook copies (and retains) no closure context.
public final class HookEntry<Handler: Sendable>: Sendable {
    public let owner: HookOwner
    /// Higher runs first.
    public let priority: Int
    public let handler: Handler

    init(owner: HookOwner, priority: Int, handler: Handler) {
        self.owner = owner
        self.priority = priority
        self.handler = handler
    }
}

/// The hooks of one hook point, in calling order: priority (highest first), then the owner's
/// sequence, then registration order.
public struct HookList<Handler: Sendable>: Sendable {
    public internal(set) var entries: [HookEntry<Handler>] = []

    public init() {}

    @inline(__always)
    public var isEmpty: Bool { entries.isEmpty }

    /// Adds `handler` after every entry that runs before it or alongside it.
    public mutating func add(_ handler: Handler, priority: Int, owner: HookOwner) {
        let index = entries.firstIndex {
            $0.priority < priority || ($0.priority == priority && $0.owner.sequence > owner.sequence)
        } ?? entries.endIndex
        entries.insert(HookEntry(owner: owner, priority: priority, handler: handler), at: index)
    }

    mutating func merge(_ other: HookList) {
        for entry in other.entries { add(entry.handler, priority: entry.priority, owner: entry.owner) }
    }

    mutating func remove(owner: HookOwner) {
        entries.removeAll { $0.owner === owner }
    }

    /// The same entries in an array buffer of its own, so that loops reading their copies never
    /// share (and bounce) one buffer's reference count.
    func unshared() -> HookList {
        var copy = HookList()
        copy.entries = entries.map { $0 }
        return copy
    }

    /// Calls every hook (notifications), on an event loop: see `HookOwner`.
    @inline(__always)
    func notifyAll(_ call: (Handler) -> Void) {
        for index in entries.indices {
            Unmanaged.passUnretained(entries[index])._withUnsafeGuaranteedRef { entry in
                if entry.owner.isActive { call(entry.handler) }
            }
        }
    }
}

/// The hooks in force, one list per hook point. A value: each change builds a new one, and every
/// event loop reads its own copy (see `HookRegistry`), so a call pays one field load and an
/// empty check when no plugin is loaded, and no lock or reference count traffic when one is.
/// The same type collects one plugin's registrations before they join the chain.
public struct HookChains: Sendable {
    public var authenticate = HookList<AuthenticateHook>()
    public var authorizePublish = HookList<AuthorizePublishHook>()
    public var authorizeSubscribe = HookList<AuthorizeSubscribeHook>()
    public var clientConnected = HookList<ClientConnectedHook>()
    public var clientDisconnected = HookList<ClientDisconnectedHook>()
    public var clientConnect = HookList<ClientConnectHook>()
    public var enhancedAuth = HookList<EnhancedAuthHook>()
    public var messagePublish = HookList<MessagePublishHook>()
    public var messageDelivered = HookList<MessageDeliveryHook>()
    public var messageAcked = HookList<MessageDeliveryHook>()
    public var messageDropped = HookList<MessageDroppedHook>()
    public var subscribe = HookList<SubscriptionHook>()
    public var unsubscribe = HookList<SubscriptionHook>()
    public var sessionCreated = HookList<SessionHook>()
    public var sessionResumed = HookList<SessionHook>()
    public var sessionTakenOver = HookList<SessionHook>()
    public var sessionEnded = HookList<SessionHook>()
    /// Owners whose plugin subscriptions (`Broker.subscribeForPlugin`) receive messages: a plugin's
    /// start receiving when it goes live, and a reload swaps the old version's for the new one's.
    public var receivers: [HookOwner] = []

    public init() {}

    /// Whether `owner`'s plugin subscriptions receive messages (a few owners at most: a scan).
    @inline(__always)
    func receives(_ owner: HookOwner) -> Bool {
        for receiver in receivers where receiver === owner { return true }
        return false
    }

    /// Adds every hook of `other`, each in its place.
    public mutating func merge(_ other: HookChains) {
        authenticate.merge(other.authenticate)
        authorizePublish.merge(other.authorizePublish)
        authorizeSubscribe.merge(other.authorizeSubscribe)
        clientConnected.merge(other.clientConnected)
        clientDisconnected.merge(other.clientDisconnected)
        clientConnect.merge(other.clientConnect)
        enhancedAuth.merge(other.enhancedAuth)
        messagePublish.merge(other.messagePublish)
        messageDelivered.merge(other.messageDelivered)
        messageAcked.merge(other.messageAcked)
        messageDropped.merge(other.messageDropped)
        subscribe.merge(other.subscribe)
        unsubscribe.merge(other.unsubscribe)
        sessionCreated.merge(other.sessionCreated)
        sessionResumed.merge(other.sessionResumed)
        sessionTakenOver.merge(other.sessionTakenOver)
        sessionEnded.merge(other.sessionEnded)
        receivers.append(contentsOf: other.receivers)
    }

    /// Takes every hook of `owner` out.
    public mutating func remove(owner: HookOwner) {
        authenticate.remove(owner: owner)
        authorizePublish.remove(owner: owner)
        authorizeSubscribe.remove(owner: owner)
        clientConnected.remove(owner: owner)
        clientDisconnected.remove(owner: owner)
        clientConnect.remove(owner: owner)
        enhancedAuth.remove(owner: owner)
        messagePublish.remove(owner: owner)
        messageDelivered.remove(owner: owner)
        messageAcked.remove(owner: owner)
        messageDropped.remove(owner: owner)
        subscribe.remove(owner: owner)
        unsubscribe.remove(owner: owner)
        sessionCreated.remove(owner: owner)
        sessionResumed.remove(owner: owner)
        sessionTakenOver.remove(owner: owner)
        sessionEnded.remove(owner: owner)
        receivers.removeAll { $0 === owner }
    }

    /// The same chains with array buffers of their own (one copy per event loop).
    func unshared() -> HookChains {
        var copy = HookChains()
        copy.authenticate = authenticate.unshared()
        copy.authorizePublish = authorizePublish.unshared()
        copy.authorizeSubscribe = authorizeSubscribe.unshared()
        copy.clientConnected = clientConnected.unshared()
        copy.clientDisconnected = clientDisconnected.unshared()
        copy.clientConnect = clientConnect.unshared()
        copy.enhancedAuth = enhancedAuth.unshared()
        copy.messagePublish = messagePublish.unshared()
        copy.messageDelivered = messageDelivered.unshared()
        copy.messageAcked = messageAcked.unshared()
        copy.messageDropped = messageDropped.unshared()
        copy.subscribe = subscribe.unshared()
        copy.unsubscribe = unsubscribe.unshared()
        copy.sessionCreated = sessionCreated.unshared()
        copy.sessionResumed = sessionResumed.unshared()
        copy.sessionTakenOver = sessionTakenOver.unshared()
        copy.sessionEnded = sessionEnded.unshared()
        copy.receivers = receivers.map { $0 }
        return copy
    }

    /// Hooks registered in all.
    public var count: Int {
        authenticate.entries.count + authorizePublish.entries.count + authorizeSubscribe.entries.count
            + clientConnected.entries.count + clientDisconnected.entries.count
            + clientConnect.entries.count + enhancedAuth.entries.count + messagePublish.entries.count
            + messageDelivered.entries.count + messageAcked.entries.count + messageDropped.entries.count
            + subscribe.entries.count + unsubscribe.entries.count + sessionCreated.entries.count
            + sessionResumed.entries.count + sessionTakenOver.entries.count + sessionEnded.entries.count
    }
}
