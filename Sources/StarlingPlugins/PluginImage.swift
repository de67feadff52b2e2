import Atomics
import CStarlingPlugin
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One version of a plugin's shared object, copied to a file of its own and opened.
///
/// Why a copy: glibc hands back the image already loaded for a path (also through a hard link or
/// a symlink), and writing into a loaded file corrupts the running image. Each load therefore
/// copies the file to `DIR/NAME-N.so`, a path never used before in this process and never
/// overwritten, so a reload really loads the new version beside the old one.
final class PluginImage: @unchecked Sendable {  // immutable after `open`, except `close` (the manager's)
    typealias VersionFunction = @convention(c) () -> Int32
    typealias InitFunction = @convention(c) (OpaquePointer?, UnsafePointer<starling_host_api>?,
                                             UnsafePointer<starling_option>?, Int,
                                             UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32
    typealias CleanupFunction = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32

    /// The ABI versions this broker serves.
    static let servedVersions: [Int32] = [Int32(STARLING_PLUGIN_ABI_VERSION)]
    static let entryPoints = ["starling_plugin_version", "starling_plugin_init", "starling_plugin_cleanup"]
    /// The optional entry point (ABI 1.2) that declares the header minor a plugin was built with.
    static let minorEntryPoint = "starling_plugin_abi_minor"

    /// The file the operator named.
    let sourcePath: String
    /// The copy that was opened.
    let copyPath: String
    /// True when the image links the Swift runtime: it is opened `RTLD_NODELETE` and never unmapped.
    let isSwift: Bool
    let abiVersion: Int32
    /// The minor version it declares (`starling_plugin_abi_minor`); 0 when it exports none.
    let abiMinor: Int32
    let initialize: InitFunction
    let cleanup: CleanupFunction
    private var handle: UnsafeMutableRawPointer?

    private init(sourcePath: String, copyPath: String, handle: UnsafeMutableRawPointer, isSwift: Bool,
                 abiVersion: Int32, abiMinor: Int32, initialize: InitFunction, cleanup: CleanupFunction) {
        self.sourcePath = sourcePath
        self.copyPath = copyPath
        self.handle = handle
        self.isSwift = isSwift
        self.abiVersion = abiVersion
        self.abiMinor = abiMinor
        self.initialize = initialize
        self.cleanup = cleanup
    }

    /// Copies `path` into `directory`, opens the copy (`RTLD_NOW | RTLD_LOCAL`), finds the three
    /// entry points and checks the ABI version - calling nothing else in the plugin.
    static func open(path: String, name: String, directory: String) throws(PluginError) -> PluginImage {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .load(.fileMissing, path: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw .load(.fileMissing, path: path, "it is a directory, not a shared object") }
        let copyPath = try copy(path, name: name, into: directory)
        var opened: UnsafeMutableRawPointer?
        defer { if opened == nil { try? FileManager.default.removeItem(atPath: copyPath) } }

        guard let handle = dlopen(copyPath, RTLD_NOW | RTLD_LOCAL) else {
            throw .load(.notASharedObject, path: path, "not a loadable shared object: \(lastDLError())")
        }
        var symbols: [String: UnsafeMutableRawPointer] = [:]
        for symbol in entryPoints { symbols[symbol] = dlsym(handle, symbol) }
        let missing = entryPoints.filter { symbols[$0] == nil }
        guard missing.isEmpty else {
            dlclose(handle)
            throw .load(.missingEntryPoints, path: path,
                        "missing entry point\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) "
                            + "(a plugin exports \(entryPoints.joined(separator: ", ")), declared in starling/plugin.h)")
        }
        let version = unsafeBitCast(symbols["starling_plugin_version"]!, to: VersionFunction.self)()
        guard servedVersions.contains(version) else {
            dlclose(handle)
            throw .load(.abiVersionMismatch, path: path,
                        "it was built for plugin ABI version \(version), this broker serves version "
                            + servedVersions.map(String.init).joined(separator: ", "))
        }
        var minor: Int32 = 0
        if let declared = dlsym(handle, minorEntryPoint) {
            minor = unsafeBitCast(declared, to: VersionFunction.self)()
            guard minor >= 0 else {
                dlclose(handle)
                throw .load(.abiVersionMismatch, path: path,
                            "\(minorEntryPoint) returned \(minor); a minor version is 0 or more")
            }
        }
        // A Swift image must never be unmapped (the runtime keeps pointers into it): pin it.
        let isSwift = dlsym(handle, "swift_retain") != nil
        if isSwift, let pinned = dlopen(copyPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE | RTLD_NOLOAD) {
            dlclose(pinned)
        }
        opened = handle
        return PluginImage(sourcePath: path, copyPath: copyPath, handle: handle, isSwift: isSwift, abiVersion: version, abiMinor: minor,
                           initialize: unsafeBitCast(symbols["starling_plugin_init"]!, to: InitFunction.self),
                           cleanup: unsafeBitCast(symbols["starling_plugin_cleanup"]!, to: CleanupFunction.self))
    }

    /// Closes the image (a C image is unmapped; a Swift one stays) and removes the copy. Call it
    /// only once nothing can call into the plugin any more.
    func close() {
        guard let handle else { return }
        self.handle = nil
        dlclose(handle)
        try? FileManager.default.removeItem(atPath: copyPath)
    }

    // MARK: - Copies

    /// Copies `path` to `directory/NAME-N.so` with the first N whose file does not exist yet.
    private static func copy(_ path: String, name: String, into directory: String) throws(PluginError) -> String {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .load(.fileMissing, path: path, "cannot create the plugin directory \(directory): \(error.localizedDescription)")
        }
        while true {
            let target = "\(directory)/\(name)-\(nextCopyNumber()).so"
            if FileManager.default.fileExists(atPath: target) { continue }
            do {
                try FileManager.default.copyItem(atPath: path, toPath: target)  // never replaces a file
                return target
            } catch {
                if FileManager.default.fileExists(atPath: target) { continue }  // taken meanwhile
                throw .load(.fileMissing, path: path, "cannot copy it to \(target): \(error.localizedDescription)")
            }
        }
    }

    /// Numbers plugin copies, process-wide.
    private static let copies = ManagedAtomic<Int>(0)

    private static func nextCopyNumber() -> Int { copies.wrappingIncrementThenLoad(ordering: .relaxed) }

    private static func lastDLError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
    }
}
