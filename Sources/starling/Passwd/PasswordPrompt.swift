import Foundation

/// Asks for a password on the terminal without echo (termios); reads a line of standard input
/// when it is not a terminal, so scripts can pipe one in.
enum PasswordPrompt {
    /// Asks twice; a `PasswdError` when the answers differ or input ends.
    static func askTwice() throws -> String {
        let first = try ask("Password: ")
        let second = try ask("Reenter password: ")
        guard first == second else { throw PasswdError("the passwords do not match") }
        return first
    }

    /// Prints `prompt` to standard error and reads one line, echo off on a terminal.
    static func ask(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        let terminal = isatty(STDIN_FILENO) == 1
        var saved = termios()
        if terminal {
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if terminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        guard let line = readLine(strippingNewline: true) else { throw PasswdError("no password given") }
        return line
    }
}
