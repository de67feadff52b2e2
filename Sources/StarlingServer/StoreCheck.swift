import Foundation
import StarlingStore

/// `starling store check`: the node's store examined offline (no broker may be using it).
public enum StoreCheck {
    /// What the store of `config` holds, after SQLite's integrity check; or why it cannot be used,
    /// as start-up would say it.
    public static func run(_ config: ServerConfig) -> Result<String, StoreError> {
        let directory = config.dataDir + "/store"
        guard FileManager.default.fileExists(atPath: directory + "/starling.db") else {
            return .success("store \(directory)/starling.db: none yet (a node makes it at start-up with storage.backend = \"sqlite\")")
        }
        do throws(StoreError) {
            let store = try SQLiteStore(directory: directory, forChecking: true)
            defer { store.close() }
            return .success(try store.summary())
        } catch {
            return .failure(error)
        }
    }
}
