import NIOCore

/// TLS on the cluster links (`[cluster.ssl_options]`), provided by the process that runs the node,
/// so that the cluster itself links no TLS library. Its handlers go first in a link's pipeline,
/// ahead of the link's own handler, and the cookie handshake runs inside TLS.
public protocol ClusterLinkTLS: Sendable {
    /// Puts the server side of TLS in front of a link accepted on the cluster port. On the
    /// channel's loop.
    func addAcceptorHandlers(to channel: Channel) throws
    /// Puts the client side of TLS in front of a link this node dials to `peer`. On the channel's loop.
    func addDialerHandlers(to channel: Channel, peer: PeerAddress) throws
    /// Why the TLS of a link not yet established failed, in words for the log line ("the peer does
    /// not speak TLS (has it [cluster.ssl_options]?)"); nil for an error that is not a refusal of
    /// the link's TLS. `peer` is the node dialled; nil on an accepted link.
    func failureReason(_ error: any Error, dialling peer: PeerAddress?) -> String?
}

/// The first bytes of a TLS connection, as a node without TLS on its links sees them.
enum TLSRecordHeader {
    /// True when `bytes` begin with a TLS record header: a handshake (a ClientHello) or alert record,
    /// then major version 3. A cluster frame begins with its length, whose first byte is 0.
    static func begins(_ bytes: ByteBuffer) -> Bool {
        guard let type = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
              let major = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt8.self) else { return false }
        return (type == handshake || type == alert) && major == 3
    }

    private static let alert: UInt8 = 0x15
    private static let handshake: UInt8 = 0x16
}
