/// Why a plugin could not be loaded, unloaded or reloaded. `description` is the message for the
/// operator: it names the plugin's path (or name) and the fault.
public struct PluginError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The file does not exist, is not a regular file, or cannot be read or copied.
        case fileMissing
        /// `dlopen` refused the file (its `dlerror` text is in the message).
        case notASharedObject
        /// One or more of the three entry points is not exported.
        case missingEntryPoints
        /// The plugin was built for an ABI version this broker does not serve.
        case abiVersionMismatch
        /// `starling_plugin_init` returned non-zero.
        case initFailed
        /// The name is taken, or is not made of letters, digits, `.`, `_` and `-`.
        case invalidName
        /// No plugin of that name is loaded.
        case notLoaded
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// A load failure: "cannot load plugin PATH: WHY".
    static func load(_ kind: Kind, path: String, _ why: String) -> PluginError {
        PluginError(kind, "cannot load plugin \(path): \(why)")
    }

    public var description: String { message }
}
