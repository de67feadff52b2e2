import ArgumentParser
import Foundation
import StarlingPasswords

/// `starling passwd`: creates and edits Mosquitto password files (`USER:$7$...` lines), which the
/// auth-password-file plugin and Mosquitto's own broker both read.
struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update a Mosquitto-compatible password file.",
        discussion: """
            Writes USER's password as PBKDF2-SHA512 ($7$, 101 iterations, a 12-byte random salt), as \
            mosquitto_passwd 2.0 does. Without PASSWORD it is asked for twice, without echo. Other lines \
            of the file are kept. Errors exit with 1.
            """)

    @Flag(name: .customShort("c"), help: "Create the file, replacing one that exists.")
    var create = false

    @Flag(name: .customShort("D"), help: "Delete USER from the file.")
    var delete = false

    @Argument(help: ArgumentHelp("The password file.", valueName: "file"))
    var file: String

    @Argument(help: ArgumentHelp("The user name (no colon).", valueName: "user"))
    var user: String

    @Argument(help: ArgumentHelp("The password; asked for when not given.", valueName: "password"))
    var password: String?

    func run() throws {
        do {
            try edit()
        } catch let error as PasswdError {
            FileHandle.standardError.write(Data("starling passwd: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func edit() throws {
        if create && delete { throw PasswdError("-c and -D cannot be used together") }
        if delete && password != nil { throw PasswdError("-D takes no password") }
        guard PasswordFile.isValid(user: user) else {
            throw PasswdError("invalid user name \"\(user)\": it must be non-empty and contain no colon")
        }
        var passwords = create ? PasswordFile() : try PasswordFileStore.read(file)
        if delete {
            guard passwords.remove(user: user) else { throw PasswdError("\(file): no user \(user)") }
        } else {
            let secret = try password ?? PasswordPrompt.askTwice()
            guard !secret.isEmpty else { throw PasswdError("empty password") }
            passwords.set(user: user, hash: PasswordHash(password: Array(secret.utf8)).text)
        }
        try PasswordFileStore.write(passwords, to: file)
    }
}

/// A failure of `starling passwd`, printed as `starling passwd: <message>`.
struct PasswdError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
