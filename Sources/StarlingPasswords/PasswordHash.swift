import Crypto
import Foundation

/// One password hash in the formats of Mosquitto's `mosquitto_passwd`:
///
/// - `$6$SALT$HASH`: SHA-512 of the password bytes followed by the salt bytes;
/// - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 of the password with the salt, 64 bytes.
///
/// SALT and HASH are standard base64 with padding.
public struct PasswordHash: Equatable, Sendable {
    /// How the hash was computed.
    public enum Algorithm: Equatable, Sendable {
        case sha512
        case pbkdf2SHA512(iterations: Int)
    }

    /// The iterations `mosquitto_passwd` 2.0 uses for `$7$`.
    public static let mosquittoIterations = 101
    /// The salt length `mosquitto_passwd` 2.0 uses, in bytes.
    public static let mosquittoSaltLength = 12
    /// The most PBKDF2 iterations accepted: a verification runs on a client's event loop.
    public static let maximumIterations = 1_000_000

    public let algorithm: Algorithm
    public let salt: [UInt8]
    public let hash: [UInt8]

    /// Parses the text form; nil when it is not one of the two formats or not well formed.
    public init?(_ text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].isEmpty else { return nil }
        switch parts[1] {
        case "6" where parts.count == 4:
            algorithm = .sha512
        case "7" where parts.count == 5:
            guard let iterations = Int(parts[2]), (1...Self.maximumIterations).contains(iterations) else { return nil }
            algorithm = .pbkdf2SHA512(iterations: iterations)
        default:
            return nil
        }
        guard let salt = Data(base64Encoded: String(parts[parts.count - 2])),
              let hash = Data(base64Encoded: String(parts[parts.count - 1])),
              !salt.isEmpty, hash.count == 64 else { return nil }
        self.salt = Array(salt)
        self.hash = Array(hash)
    }

    /// Hashes `password` with `salt` (random, of Mosquitto's length, when nil) by `algorithm`.
    public init(password: some DataProtocol, algorithm: Algorithm = .pbkdf2SHA512(iterations: mosquittoIterations),
                salt: [UInt8]? = nil) {
        self.algorithm = algorithm
        self.salt = salt ?? Self.randomSalt()
        self.hash = Self.digest(password: password, salt: self.salt, algorithm: algorithm)
    }

    /// The text form, as `mosquitto_passwd` writes it.
    public var text: String {
        let salt = Data(self.salt).base64EncodedString()
        let hash = Data(self.hash).base64EncodedString()
        switch algorithm {
        case .sha512: return "$6$\(salt)$\(hash)"
        case .pbkdf2SHA512(let iterations): return "$7$\(iterations)$\(salt)$\(hash)"
        }
    }

    /// True when `password` hashes to this hash; the comparison takes the same time wherever the bytes differ.
    public func verifies(_ password: some DataProtocol) -> Bool {
        ConstantTime.equal(Self.digest(password: password, salt: salt, algorithm: algorithm), hash)
    }

    private static func digest(password: some DataProtocol, salt: [UInt8], algorithm: Algorithm) -> [UInt8] {
        switch algorithm {
        case .sha512:
            var hasher = SHA512()
            hasher.update(data: Array(password))
            hasher.update(data: salt)
            return Array(hasher.finalize())
        case .pbkdf2SHA512(let iterations):
            return PBKDF2.sha512(password: password, salt: salt, iterations: iterations, length: 64)
        }
    }

    private static func randomSalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<mosquittoSaltLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
