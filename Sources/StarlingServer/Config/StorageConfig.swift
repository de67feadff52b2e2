/// Where the node keeps what must outlive its process (`[storage] backend`).
public enum StorageBackend: String, Sendable, Equatable, CaseIterable {
    /// SQLite in `<node.data_dir>/store/starling.db` (the default).
    case sqlite
    /// Nothing survives a restart (an existing store is left untouched).
    case memory
}

/// `[storage]`: the durable store.
public struct StorageConfig: Sendable, Equatable {
    public var backend = StorageBackend.sqlite
    /// The longest a change waits for its group commit, in milliseconds.
    public var flushIntervalMilliseconds = 10

    public init() {}
}
