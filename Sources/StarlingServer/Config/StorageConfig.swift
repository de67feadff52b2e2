import StarlingKernel

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
    /// When acknowledgements go out: at once (`batch`), or after the commit (`sync`).
    public var durability = StoreDurability.batch
    /// The longest a change waits for its group commit, in milliseconds.
    public var flushIntervalMilliseconds = 10
    /// The most the store's files may take on disk (0: no limit).
    public var maxBytes = 0

    public init() {}
}
