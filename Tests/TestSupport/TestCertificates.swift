// Certificates for tests of TLS listeners, made with Debian's `openssl` command line (as the Python
// suite's tlscerts.py makes them): P-256 keys, valid for 30 days.
import Foundation

/// A CA, a server certificate for `localhost` and 127.0.0.1 signed by it, and client certificates
/// signed by it on demand, as PEM files in one directory.
public struct TestCertificates: Sendable {
    public let directory: URL
    /// The CA certificate (subject `CN=Starling Test CA`).
    public let ca: String
    /// The server certificate: subject `CN=localhost`, SAN `DNS:localhost, IP:127.0.0.1`.
    public let server: String
    public let serverKey: String

    private static let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    /// Makes the CA and the server certificate in `directory`.
    public init(in directory: URL) throws {
        self.directory = directory
        try Self.openssl(["req", "-x509"] + Self.newKey + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
                                                             "-subj", "/CN=Starling Test CA",
                                                             "-addext", "basicConstraints=critical,CA:TRUE",
                                                             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                         in: directory)
        ca = directory.appendingPathComponent("ca.pem").path
        (server, serverKey) = try Self.signed("server", subject: "/CN=localhost", usage: "serverAuth",
                                              san: "DNS:localhost,IP:127.0.0.1", in: directory)
    }

    /// A client certificate signed by the CA with `subject` in openssl's form (`/C=GB/O=Example/CN=alice`),
    /// and its key: `NAME.pem`, `NAME.key`.
    public func client(_ name: String, subject: String) throws -> (certificate: String, key: String) {
        try Self.signed(name, subject: subject, usage: "clientAuth", san: nil, in: directory)
    }

    /// A key that matches no certificate: `NAME.key`.
    public func key(_ name: String) throws -> String {
        try Self.openssl(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "\(name).key"],
                         in: directory)
        return directory.appendingPathComponent("\(name).key").path
    }

    private static func signed(_ name: String, subject: String, usage: String, san: String?,
                               in directory: URL) throws -> (String, String) {
        try openssl(["req", "-new"] + newKey + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject],
                    in: directory)
        let extensions = "extendedKeyUsage=\(usage)\n" + (san.map { "subjectAltName=\($0)\n" } ?? "")
        try extensions.write(to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "\(name).pem", "-days", "30", "-extfile", "\(name).ext"], in: directory)
        return (directory.appendingPathComponent("\(name).pem").path, directory.appendingPathComponent("\(name).key").path)
    }

    private static func openssl(_ arguments: [String], in directory: URL) throws {
        let process = Process(URL(fileURLWithPath: "/usr/bin/openssl"), arguments, environment: [:])
        process.currentDirectoryURL = directory
        let output = try process.runToEnd(timeout: 30)
        guard output.status == 0 else { throw TestSupportError("openssl \(arguments.joined(separator: " ")): \(output)") }
    }
}
