import Foundation
import StarlingPasswords

/// Reads and replaces password files on disk for `starling passwd`.
enum PasswordFileStore {
    /// The parsed file; a `PasswdError` naming the file when it is missing or unreadable.
    static func read(_ path: String) throws -> PasswordFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PasswdError("\(path) does not exist (use -c to create it)")
        }
        guard !isDirectory.boolValue else { throw PasswdError("cannot read \(path): it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PasswdError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw PasswdError("\(path) is not UTF-8 text") }
        return PasswordFile(text: text)
    }

    /// Replaces the file at once (a temporary file beside it, renamed over it), so a broker reading
    /// it never sees half a file. Keeps an existing file's permissions; a new one gets 0600.
    static func write(_ file: PasswordFile, to path: String) throws {
        let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?
            .uint16Value ?? 0o600
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(file.text.utf8),
                                             attributes: [.posixPermissions: mode]) else {
            throw PasswdError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw PasswdError("cannot replace \(path): \(reason)")
        }
    }
}
