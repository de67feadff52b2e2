import Foundation

/// Certificates as PEM, the text form plugins get (`peer_cert_pem`): what `openssl x509` writes.
enum CertificatePEM {
    /// `-----BEGIN CERTIFICATE-----`, the DER in base64 lines of 64 characters, `-----END
    /// CERTIFICATE-----`, for each certificate in order; every line ends in "\n".
    static func encode(_ certificatesDER: [[UInt8]]) -> String {
        certificatesDER.map { der in
            let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            return "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n"
        }.joined()
    }
}
