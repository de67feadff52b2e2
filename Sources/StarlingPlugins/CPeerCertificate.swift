import CStarlingPlugin
import StarlingKernel

/// An event struct that carries the client's verified TLS certificate (ABI 1.4): the same six
/// fields in client_connect, authenticate, authorize_publish and authorize_subscribe.
protocol PeerCertificateEvent {
    var peer_cert_dn: UnsafePointer<CChar>! { get set }
    var peer_cert_dn_len: Int { get set }
    var peer_cert_cn: UnsafePointer<CChar>! { get set }
    var peer_cert_cn_len: Int { get set }
    var peer_cert_pem: UnsafePointer<CChar>! { get set }
    var peer_cert_pem_len: Int { get set }
}

extension starling_client_connect_event: PeerCertificateEvent {}
extension starling_authenticate_event: PeerCertificateEvent {}
extension starling_authorize_publish_event: PeerCertificateEvent {}
extension starling_authorize_subscribe_event: PeerCertificateEvent {}

extension PeerCertificateEvent {
    /// Calls the plugin's `function` with this event, its certificate fields pointing for the call
    /// into the strings `security` keeps (nothing is copied but a short CN or DN, which Swift keeps
    /// inline); NULL and 0 without TLS or without a certificate.
    @inline(__always)
    mutating func call(_ function: starling_hook_fn, _ userData: UnsafeMutableRawPointer?,
                       certificate security: TransportSecurity?) -> Int32 {
        withCString(security?.peerDistinguishedName) { dn, dnLength in
            withCString(security?.peerCommonName) { cn, cnLength in
                withCString(security?.peerCertificateChainPEM) { pem, pemLength in
                    (peer_cert_dn, peer_cert_dn_len) = (dn, dnLength)
                    (peer_cert_cn, peer_cert_cn_len) = (cn, cnLength)
                    (peer_cert_pem, peer_cert_pem_len) = (pem, pemLength)
                    return function(&self, userData)
                }
            }
        }
    }
}
