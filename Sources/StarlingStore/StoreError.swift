/// Why the store cannot be opened or used: one line naming the file and the problem, and, for a
/// store that cannot be read, how to move it aside. Start-up stops on it with exit status 2.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// A store file Starling cannot use as it is: the broker never wipes it, the operator moves it.
    static func unusable(_ path: String, _ problem: String) -> StoreError {
        StoreError("store \(path): \(problem); move it aside (mv \(path) \(path).bad) to start with an empty store, or point node.data_dir elsewhere")
    }
}
