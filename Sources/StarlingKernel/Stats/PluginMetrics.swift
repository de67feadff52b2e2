import Atomics
import NIOConcurrencyHelpers

/// Counters and gauges that plugins add to the node's metrics (`host->counter_add`,
/// `host->gauge_set`), exported as `starling_plugin_<name>{plugin="<plugin>"}`.
///
/// An update takes the lock only to find (or make) the series, then adds or stores atomically:
/// cheap from any thread. A name is a counter or a gauge for every plugin (Prometheus gives one
/// metric name one type). A plugin's series stay through a reload (the new version counts on)
/// and go when it is unloaded.
public final class PluginMetrics: Sendable {
    public enum Kind: String, Sendable {
        case counter
        case gauge
    }

    /// One series as the exporters read it.
    public struct Sample: Sendable, Equatable {
        public var plugin: String
        public var name: String
        public var kind: Kind
        public var value: Int64
    }

    /// Why an update was refused.
    public enum Failure: Error, Equatable {
        /// The name is not `[a-z_][a-z0-9_]*` (at most 100 characters).
        case invalidName
        /// The name is already a metric of the other kind; a counter's delta was negative.
        case conflict
    }

    private final class Series: Sendable {
        let kind: Kind
        let value = ManagedAtomic<Int64>(0)
        init(kind: Kind) { self.kind = kind }
    }

    private struct State {
        var series: [String: [String: Series]] = [:]
        var kinds: [String: Kind] = [:]
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Adds `delta` (>= 0) to counter `name` of `plugin`.
    public func add(plugin: String, name: String, delta: Int64) throws(Failure) {
        guard delta >= 0 else { throw .conflict }
        try series(plugin: plugin, name: name, kind: .counter).value.wrappingIncrement(by: delta, ordering: .relaxed)
    }

    /// Sets gauge `name` of `plugin` to `value`.
    public func set(plugin: String, name: String, value: Int64) throws(Failure) {
        try series(plugin: plugin, name: name, kind: .gauge).value.store(value, ordering: .relaxed)
    }

    /// Removes every series of `plugin` (unload).
    public func remove(plugin: String) {
        state.withLockedValue { state in
            state.series[plugin] = nil
            let used = Set(state.series.values.flatMap(\.keys))
            state.kinds = state.kinds.filter { used.contains($0.key) }
        }
    }

    /// Every series now, sorted by name, then plugin.
    public var samples: [Sample] {
        state.withLockedValue { state in
            state.series.flatMap { plugin, series in
                series.map { Sample(plugin: plugin, name: $0.key, kind: $0.value.kind, value: $0.value.value.load(ordering: .relaxed)) }
            }
        }.sorted { ($0.name, $0.plugin) < ($1.name, $1.plugin) }
    }

    /// Whether `name` may name a plugin metric: `[a-z_][a-z0-9_]*`, 1 to 100 characters.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 100, first == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
        }
    }

    private func series(plugin: String, name: String, kind: Kind) throws(Failure) -> Series {
        let found = state.withLockedValue { state -> Series? in
            if let existing = state.series[plugin]?[name] { return existing.kind == kind ? existing : nil }
            guard Self.isValidName(name) else { return nil }
            if let used = state.kinds[name], used != kind { return nil }
            state.kinds[name] = kind
            let created = Series(kind: kind)
            state.series[plugin, default: [:]][name] = created
            return created
        }
        guard let found else { throw Self.isValidName(name) ? .conflict : .invalidName }
        return found
    }
}
