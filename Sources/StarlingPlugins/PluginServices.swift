import Atomics
import CStarlingPlugin
import MQTTCore
import NIOConcurrencyHelpers
import NIOCore
import StarlingFFI
import StarlingKernel

/// A C function pointer and the plugin's opaque user data, carried into closures that run on
/// event loops. The plugin owns both; the broker never dereferences `userData`.
struct CCallback<Function>: @unchecked Sendable {  // immutable; the plugin owns what it points to
    let function: Function
    let userData: UnsafeMutableRawPointer?
}

/// What one plugin version holds of the broker's services: its own subscriptions, its timers and
/// the functions it exported. `close()` (unload, or replaced by a reload) ends the subscriptions
/// and timers and refuses new ones; calls already running are waited for through the owner.
final class PluginServices: Sendable {
    private struct State {
        var closed = false
        var exportsOpen = false
        var subscriptions: [UInt64: PluginSubscription] = [:]
        var timers: [UInt64: PluginTimer] = [:]
        var functions: [String: FFIFunction] = [:]
    }

    /// Ids for subscriptions and timers: non-zero, never reused in the process.
    private static let nextId = ManagedAtomic<UInt64>(1)
    /// The longest timer delay or period (one year).
    static let maximumTimerMilliseconds: UInt64 = 365 * 24 * 3600 * 1000

    private let state = NIOLockedValueBox(State())
    private let owner: HookOwner
    private let broker: Broker

    init(owner: HookOwner, broker: Broker) {
        self.owner = owner
        self.broker = broker
    }

    // MARK: - Subscriptions

    /// `host->subscribe`.
    func subscribe(filter: String, qos: QoS, receiveOwn: Bool, callback: CCallback<starling_message_fn>) -> Result<UInt64, ServiceFailure> {
        let id = Self.nextId.loadThenWrappingIncrement(ordering: .relaxed)
        let subscription: PluginSubscription
        do {
            subscription = try broker.subscribeForPlugin(filter: filter, qos: qos, owner: owner, receiveOwn: receiveOwn,
                                                       spread: Int(truncatingIfNeeded: id)) { message, qos in
                Self.deliver(message, qos: qos, subscription: id, to: callback)
            }
        } catch {
            return .failure(.invalid)
        }
        let kept = state.withLockedValue { state -> Bool in
            guard !state.closed else { return false }
            state.subscriptions[id] = subscription
            return true
        }
        guard kept else {
            broker.unsubscribeForPlugin(subscription)
            return .failure(.state)
        }
        return .success(id)
    }

    /// `host->unsubscribe`: false for an id this version does not hold.
    func unsubscribe(_ id: UInt64) -> Bool {
        guard let subscription = state.withLockedValue({ $0.subscriptions.removeValue(forKey: id) }) else { return false }
        broker.unsubscribeForPlugin(subscription)
        return true
    }

    /// Calls the plugin's message callback with `message` as a `starling_message_event`.
    private static func deliver(_ message: Message, qos: QoS, subscription: UInt64, to callback: CCallback<starling_message_fn>) {
        let properties = message.properties
        withCString(message.topic) { topic, topicLength in
            withPayload(message.payload) { payload, payloadLength in
                withCString(message.publisherId) { publisher, publisherLength in
                    withCString(properties.contentType) { contentType, contentTypeLength in
                        withCString(properties.responseTopic) { responseTopic, responseTopicLength in
                            withBytes(properties.correlationData) { correlation, correlationLength in
                                var event = starling_message_event()
                                event.struct_size = MemoryLayout<starling_message_event>.stride
                                event.subscription_id = subscription
                                event.topic = topic
                                event.topic_len = topicLength
                                event.payload = payload
                                event.payload_len = payloadLength
                                event.qos = Int32(qos.rawValue)
                                event.retain = message.retain
                                event.publisher_id = publisher
                                event.publisher_id_len = publisherLength
                                event.payload_format = properties.payloadFormatIndicator.map(Int32.init) ?? -1
                                event.content_type = contentType
                                event.content_type_len = contentTypeLength
                                event.response_topic = responseTopic
                                event.response_topic_len = responseTopicLength
                                event.correlation_data = correlation
                                event.correlation_data_len = correlationLength
                                event.expiry_seconds = message.expiresAt.map {
                                    max(0, ($0 - .now()).nanoseconds / 1_000_000_000)
                                } ?? -1
                                callback.function(&event, callback.userData)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Timers

    /// `host->timer_start`.
    func startTimer(delay: UInt64, repeat period: UInt64, callback: CCallback<starling_timer_fn>) -> Result<UInt64, ServiceFailure> {
        guard delay <= Self.maximumTimerMilliseconds, period <= Self.maximumTimerMilliseconds else { return .failure(.invalid) }
        let id = Self.nextId.loadThenWrappingIncrement(ordering: .relaxed)
        let timer = PluginTimer()
        let added = state.withLockedValue { state -> Bool in
            guard !state.closed else { return false }
            state.timers[id] = timer
            return true
        }
        guard added else { return .failure(.state) }
        let loop = broker.eventLoop(spread: Int(truncatingIfNeeded: id))
        let owner = self.owner
        let fire: @Sendable () -> Void = { [weak self] in
            guard !timer.isCancelled, owner.enter() else { return }
            callback.function(id, callback.userData)
            owner.leave()
            if period == 0 { _ = self?.state.withLockedValue { $0.timers.removeValue(forKey: id) } }
        }
        let initial = TimeAmount.milliseconds(Int64(delay))
        if period == 0 {
            let scheduled = loop.scheduleTask(in: initial, fire)
            timer.setCancel { scheduled.cancel() }
        } else {
            let repeated = loop.scheduleRepeatedTask(initialDelay: initial, delay: .milliseconds(Int64(period))) { _ in fire() }
            timer.setCancel { repeated.cancel() }
        }
        return .success(id)
    }

    /// `host->timer_cancel`: false for an unknown id.
    func cancelTimer(_ id: UInt64) -> Bool {
        guard let timer = state.withLockedValue({ $0.timers.removeValue(forKey: id) }) else { return false }
        timer.cancel()
        return true
    }

    // MARK: - Exported functions

    /// Opens or closes `export_function` (it is allowed while init runs).
    func setExportsOpen(_ open: Bool) {
        state.withLockedValue { $0.exportsOpen = open }
    }

    /// `host->export_function`.
    func export(name: String, function: FFIFunction) -> ServiceFailure? {
        state.withLockedValue { state -> ServiceFailure? in
            guard state.exportsOpen else { return .state }
            guard state.functions[name] == nil else { return .invalid }
            state.functions[name] = function
            return nil
        }
    }

    func function(named name: String) -> FFIFunction? {
        state.withLockedValue { $0.functions[name] }
    }

    /// The exported functions' names and signatures, sorted by name.
    var functions: [(name: String, signature: String)] {
        state.withLockedValue { $0.functions.map { ($0.key, $0.value.signature.description) } }.sorted { $0.name < $1.name }
    }

    // MARK: - Closing

    /// Ends every subscription and timer and refuses new ones. Callbacks already running finish
    /// (the owner's drain waits for them); none starts afterwards.
    func close() {
        let (subscriptions, timers) = state.withLockedValue { state in
            state.closed = true
            state.exportsOpen = false
            defer { (state.subscriptions, state.timers) = ([:], [:]) }
            return (Array(state.subscriptions.values), Array(state.timers.values))
        }
        for subscription in subscriptions { broker.unsubscribeForPlugin(subscription) }
        for timer in timers { timer.cancel() }
    }
}

/// Why a service call was refused, as its `starling_status`.
enum ServiceFailure: Error {
    case invalid
    case state
    case notFound

    var status: Int32 {
        switch self {
        case .invalid: StarlingStatus.invalid
        case .state: StarlingStatus.state
        case .notFound: StarlingStatus.notFound
        }
    }
}

/// One timer: a flag every firing checks (a cancel from another thread may race the loop's
/// queue) and the cancellation of its scheduled task.
final class PluginTimer: Sendable {
    private let cancelled = ManagedAtomic<Bool>(false)
    private let cancelTask = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)

    var isCancelled: Bool { cancelled.load(ordering: .sequentiallyConsistent) }

    func setCancel(_ cancel: @escaping @Sendable () -> Void) {
        let cancelNow = cancelTask.withLockedValue { stored -> Bool in
            stored = cancel
            return isCancelled
        }
        if cancelNow { cancel() }
    }

    func cancel() {
        cancelled.store(true, ordering: .sequentiallyConsistent)
        cancelTask.withLockedValue { $0 }?()
    }
}
