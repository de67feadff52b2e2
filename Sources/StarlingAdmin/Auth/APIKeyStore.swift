import Crypto
import Foundation
import NIOConcurrencyHelpers

/// The node's API keys, kept in `<dataDir>/api_keys.json`. A key is a public id and a secret;
/// only a salted SHA-256 of the secret is stored, so the secret is shown once, at creation.
public final class APIKeyStore: Sendable {
    /// The file's name inside the data directory.
    public static let fileName = "api_keys.json"

    /// A key as listed: never its secret.
    public struct Listing: Sendable, Codable, Equatable {
        public var name: String
        /// When it was created, ISO 8601 in UTC.
        public var createdAt: String
    }

    /// A newly created key, secret included (shown once).
    public struct Created: Sendable, Codable, Equatable {
        public var name: String
        public var key: String
        public var secret: String
    }

    /// One key as the file stores it.
    struct Entry: Codable, Equatable {
        var name: String
        var key: String
        /// Base64 of the random salt.
        var salt: String
        /// Hex of SHA-256(salt ‖ secret).
        var secretSha256: String
        var createdAt: String
    }

    struct File: Codable {
        var keys: [Entry]
    }

    /// The file's path.
    public let path: String
    private let directory: String
    private let entries: NIOLockedValueBox<[Entry]>

    /// Loads the keys of `directory` (none when the file does not exist yet).
    /// - Throws: `APIKeyStoreError` when the file cannot be read or is not a key file.
    public init(directory: String) throws {
        self.directory = directory
        self.path = (directory as NSString).appendingPathComponent(Self.fileName)
        var loaded: [Entry] = []
        if FileManager.default.fileExists(atPath: path) {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                loaded = try JSONCoding.decoder.decode(File.self, from: data).keys
            } catch {
                throw APIKeyStoreError("cannot read the API key file \(path): \(error)")
            }
        }
        entries = NIOLockedValueBox(loaded)
    }

    /// True while no key exists: the API then serves loopback peers without a key.
    public var isEmpty: Bool { entries.withLockedValue { $0.isEmpty } }

    /// The keys, sorted by name.
    public func list() -> [Listing] {
        entries.withLockedValue { $0 }.sorted { $0.name < $1.name }.map { Listing(name: $0.name, createdAt: $0.createdAt) }
    }

    /// Creates a key named `name` and saves the file. 400 for a bad name, 409 when it exists.
    public func create(name: String) throws(APIError) -> Created {
        guard (1...64).contains(name.utf8.count),
              name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) })
        else {
            throw .badParameter("name", "expected 1 to 64 letters, digits, '_', '-' or '.', got '\(name)'")
        }
        let key = Self.randomHex(bytes: 12)
        let secret = Self.randomBase64URL(bytes: 32)
        let salt = Self.randomBytes(16)
        let entry = Entry(name: name, key: key, salt: Data(salt).base64EncodedString(),
                          secretSha256: Self.hash(secret: secret, salt: salt), createdAt: Self.now())
        try entries.withLockedValue { entries -> Result<Void, APIError> in
            guard !entries.contains(where: { $0.name == name }) else { return .failure(.conflict("an API key named '\(name)' exists")) }
            return save(entries + [entry]).map { entries.append(entry) }
        }.get()
        return Created(name: name, key: key, secret: secret)
    }

    /// Deletes the key named `name` and saves the file; false when there is none.
    public func delete(name: String) throws(APIError) -> Bool {
        try entries.withLockedValue { entries -> Result<Bool, APIError> in
            guard let index = entries.firstIndex(where: { $0.name == name }) else { return .success(false) }
            var remaining = entries
            remaining.remove(at: index)
            return save(remaining).map { entries = remaining; return true }
        }.get()
    }

    /// True when `key` exists and `secret` is its secret. Compares in constant time.
    public func verify(key: String, secret: String) -> Bool {
        let candidates = entries.withLockedValue { $0 }
        var matched = false
        for entry in candidates {
            let keyMatches = constantTimeEqual(Array(entry.key.utf8), Array(key.utf8))
            guard let salt = Data(base64Encoded: entry.salt) else { continue }
            let secretMatches = constantTimeEqual(Array(Self.hash(secret: secret, salt: Array(salt)).utf8),
                                                  Array(entry.secretSha256.utf8))
            matched = matched || (keyMatches && secretMatches)
        }
        return matched
    }

    // MARK: - File

    /// Writes `entries` to a temporary file (mode 0600) and renames it over the key file.
    private func save(_ entries: [Entry]) -> Result<Void, APIError> {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let encoder = JSONCoding.encoder
            encoder.outputFormatting.insert(.prettyPrinted)
            let data = try encoder.encode(File(keys: entries))
            let temporary = path + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw APIKeyStoreError("cannot write \(temporary)")
            }
            guard rename(temporary, path) == 0 else { throw APIKeyStoreError("cannot rename \(temporary): errno \(errno)") }
            return .success(())
        } catch {
            return .failure(APIError(.internalServerError, code: "INTERNAL_ERROR", "cannot save the API key file \(path): \(error)"))
        }
    }

    // MARK: - Secrets

    static func hash(secret: String, salt: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: salt)
        hasher.update(data: Array(secret.utf8))
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }

    static func randomHex(bytes: Int) -> String {
        randomBytes(bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func randomBase64URL(bytes: Int) -> String {
        Data(randomBytes(bytes)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func now() -> String {
        Date().formatted(.iso8601)
    }
}

/// Equal lengths and bytes, in time that depends only on the lengths.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}

/// The API key file could not be read or written.
public struct APIKeyStoreError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
