import Crypto
import Foundation

/// PBKDF2 (RFC 8018, section 5.2) with HMAC-SHA512 as its pseudorandom function.
enum PBKDF2 {
    /// Derives `length` bytes from `password` and `salt` with `iterations` rounds.
    static func sha512(password: some DataProtocol, salt: [UInt8], iterations: Int, length: Int) -> [UInt8] {
        let key = SymmetricKey(data: Array(password))
        var derived: [UInt8] = []
        derived.reserveCapacity(length)
        var blockIndex: UInt32 = 1
        while derived.count < length {
            var message = salt
            withUnsafeBytes(of: blockIndex.bigEndian) { message.append(contentsOf: $0) }
            var u = Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
            var block = u
            if iterations > 1 {
                for _ in 1..<iterations {
                    u = Array(HMAC<SHA512>.authenticationCode(for: u, using: key))
                    for index in block.indices { block[index] ^= u[index] }
                }
            }
            derived.append(contentsOf: block.prefix(length - derived.count))
            blockIndex += 1
        }
        return derived
    }
}
