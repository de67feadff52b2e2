import Crypto

/// The cookie proofs of the handshake: HMAC-SHA256 keyed with the cookie over both nonces, both
/// names and the direction, so a proof is good for this one handshake and one side only, and the
/// cookie never crosses the wire.
enum HandshakeProof {
    static let nonceLength = 32
    static let length = 32

    /// Which side proves: the node that accepted the link, or the one that dialled it.
    enum Side: String {
        case acceptor
        case dialer
    }

    /// The proof `side` sends. `dialer`/`acceptor` are the two sides' hellos.
    static func make(cookie: String, side: Side, dialer: Hello, acceptor: Hello) -> [UInt8] {
        var message: [UInt8] = Array("starling-cluster-v1 \(side.rawValue)\n".utf8)
        message += dialer.nonce + acceptor.nonce
        message += Array("\n\(dialer.name)\n\(acceptor.name)".utf8)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(cookie.utf8)))
        return Array(code)
    }

    /// Whether `proof` is the one `side` should have sent, compared in constant time.
    static func verify(_ proof: [UInt8], cookie: String, side: Side, dialer: Hello, acceptor: Hello) -> Bool {
        let expected = make(cookie: cookie, side: side, dialer: dialer, acceptor: acceptor)
        guard proof.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ proof[index] }
        return difference == 0
    }

    /// 32 fresh random bytes.
    static func nonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<nonceLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
