import Foundation
@testable import StarlingServer
import StarlingKernel
import StarlingTestSupport
import XCTest

/// `[listeners.ssl.NAME]` and `[listeners.wss.NAME]` with their `ssl_options`: the file, the
/// environment, rendering, and the checks of the certificate, key and CA files (made with `openssl`).
final class TLSConfigTests: ConfigTestCase {
    /// A CA, a server certificate and key signed by it, and another key, in the test's directory.
    private func makeCertificates() throws -> (ca: String, cert: String, key: String, otherKey: String) {
        let certificates = try TestCertificates(in: directory)
        return (certificates.ca, certificates.server, certificates.serverKey, try certificates.key("other"))
    }

    func testSSLAndWSSListenersWithTheirOptions() throws {
        let files = try makeCertificates()
        let config = try load("""
            [listeners.ssl.default]
            [listeners.ssl.default.ssl_options]
            certfile = "\(files.cert)"
            keyfile = "\(files.key)"
            cacertfile = "\(files.ca)"
            verify = "verify_peer"
            fail_if_no_peer_cert = true
            versions = ["tlsv1.2"]
            ciphers = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
            handshake_timeout = "500ms"
            [listeners.wss.default]
            max_connections = 10
            [listeners.wss.default.ssl_options]
            certfile = "\(files.cert)"
            keyfile = "\(files.key)"
            """)
        XCTAssertEqual(config.listeners.map(\.qualifiedName), ["ssl.default", "wss.default"])
        let ssl = config.listeners[0], wss = config.listeners[1]
        XCTAssertEqual([ssl.port, wss.port, wss.maxConnections], [8883, 8084, 10])
        XCTAssertEqual(wss.path, "/mqtt")
        XCTAssertEqual(ssl.ssl, SSLOptions(certfile: files.cert, keyfile: files.key, cacertfile: files.ca, verify: .verifyPeer,
                                           failIfNoPeerCert: true, versions: [.tlsv12],
                                           ciphers: ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"],
                                           handshakeTimeoutMilliseconds: 500))
        XCTAssertEqual(wss.ssl, SSLOptions(certfile: files.cert, keyfile: files.key))
        XCTAssertEqual(wss.ssl.versions, [.tlsv13, .tlsv12])
        XCTAssertEqual(wss.ssl.handshakeTimeoutMilliseconds, 15_000)
        XCTAssertEqual(try load(config.renderTOML()), config)
        XCTAssertTrue(config.renderTOML().contains("[listeners.ssl.default.ssl_options]\ncertfile = \"\(files.cert)\""))
    }

    func testEnvironmentSetsSSLOptionsAndAddedListenersNeedAPort() throws {
        let files = try makeCertificates()
        let env = [
            "STARLING_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE": files.cert,
            "STARLING_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE": files.key,
            "STARLING_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__VERSIONS": "tlsv1.3",
            "STARLING_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__HANDSHAKE_TIMEOUT": "2s",
        ]
        try assertError(nil, env: env, mentions: ["STARLING_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE adds listener ssl.default",
                                                  "set STARLING_LISTENERS__SSL__DEFAULT__PORT"])
        let config = try load(nil, env: env.merging(["STARLING_LISTENERS__SSL__DEFAULT__PORT": "0"]) { $1 })
        XCTAssertEqual(config.listeners.map(\.qualifiedName), ["tcp.default", "ssl.default"])
        XCTAssertEqual(config.listeners[1].ssl, SSLOptions(certfile: files.cert, keyfile: files.key, versions: [.tlsv13],
                                                           handshakeTimeoutMilliseconds: 2000))
        try assertError(nil, env: ["STARLING_LISTENERS__TCP__DEFAULT__SSL_OPTIONS__CERTFILE": files.cert],
                        mentions: ["only ssl and wss listeners have ssl_options"])
    }

    func testBadValuesNameKeyValueAndWhatIsAllowed() throws {
        let files = try makeCertificates()
        let base = "[listeners.ssl.a]\n[listeners.ssl.a.ssl_options]\ncertfile = \"\(files.cert)\"\nkeyfile = \"\(files.key)\"\n"
        let cases: [(String, [String])] = [
            ("verify = \"verify_always\"", ["listeners.ssl.a.ssl_options.verify = \"verify_always\"", "one of verify_peer, verify_none"]),
            ("versions = [\"tlsv1.1\"]", ["listeners.ssl.a.ssl_options.versions = [\"tlsv1.1\"]", "\"tlsv1.3\" and \"tlsv1.2\""]),
            ("versions = []", ["listeners.ssl.a.ssl_options.versions = []", "a non-empty list"]),
            ("handshake_timeout = \"soon\"", ["listeners.ssl.a.ssl_options.handshake_timeout = \"soon\"", "a duration"]),
            ("fail_if_no_peer_cert = \"yes\"", ["fail_if_no_peer_cert = \"yes\"", "true or false"]),
            ("certfiles = \"x\"", ["unknown key 'listeners.ssl.a.ssl_options.certfiles'", "known keys in [listeners.ssl.a.ssl_options]"]),
            ("ciphers = [\"NO-SUCH-CIPHER\"]", ["listeners.ssl.a.ssl_options.ciphers: unknown TLS 1.2 cipher suite \"NO-SUCH-CIPHER\""]),
            ("verify = \"verify_peer\"", ["listeners.ssl.a.ssl_options.cacertfile: not set", "verify_peer"]),
            ("fail_if_no_peer_cert = true", ["listeners.ssl.a.ssl_options.fail_if_no_peer_cert = true: needs verify = \"verify_peer\""]),
        ]
        for (line, parts) in cases { try assertError(base + line + "\n", mentions: parts) }
        try assertError("[listeners.tcp.a.ssl_options]\ncertfile = \"x\"\n", mentions: ["only ssl and wss listeners have ssl_options"])
        try assertError("[listeners.ssl.a]\npath = \"/x\"\n", mentions: ["only WebSocket (ws, wss) listeners have a path"])
        try assertError("[listeners.quic.a]\nport = 1\n", mentions: ["unknown listener kind 'quic'", "tcp, ws, ssl, wss"])
    }

    func testAListenerOpensOnlyWithCertfileAndKeyfile() throws {
        let files = try makeCertificates()
        try assertError("[listeners.ssl.default]\nport = 8883\n", mentions: [
            "listeners.ssl.default.ssl_options.certfile: not set; an ssl listener opens only when certfile and keyfile are set"])
        try assertError("[listeners.wss.w.ssl_options]\ncertfile = \"\(files.cert)\"\n", mentions: [
            "listeners.wss.w.ssl_options.keyfile: not set"])
        // A disabled listener is not checked.
        XCTAssertEqual(try load("[listeners.tcp.default]\n[listeners.ssl.off]\nenabled = false\n").listeners.count, 2)
    }

    func testBadFilesNameTheKeyTheFileAndTheFault() throws {
        let files = try makeCertificates()
        let missing = directory.appendingPathComponent("missing.pem").path
        func config(cert: String = files.cert, key: String = files.key, ca: String? = nil) -> String {
            "[listeners.ssl.default.ssl_options]\ncertfile = \"\(cert)\"\nkeyfile = \"\(key)\"\n" + (ca.map { "cacertfile = \"\($0)\"\n" } ?? "")
        }
        try assertError(config(cert: missing), mentions: [
            "listeners.ssl.default.ssl_options.certfile = \"\(missing)\": cannot read the file: No such file or directory"])
        try assertError(config(key: missing), mentions: ["listeners.ssl.default.ssl_options.keyfile = \"\(missing)\": cannot read"])
        try assertError(config(cert: files.key), mentions: ["ssl_options.certfile = \"\(files.key)\": holds no PEM certificate"])
        try assertError(config(key: files.cert), mentions: ["ssl_options.keyfile = \"\(files.cert)\": holds no PEM private key"])
        try assertError(config(key: files.otherKey), mentions: [
            "ssl_options.keyfile = \"\(files.otherKey)\": the key does not match the certificate in listeners.ssl.default.ssl_options.certfile"])
        try assertError(config(ca: files.key), mentions: ["ssl_options.cacertfile = \"\(files.key)\": holds no PEM certificate"])
        try assertError(config(ca: directory.path), mentions: ["ssl_options.cacertfile = \"\(directory.path)\": cannot read the file"])
        XCTAssertEqual(try load(config(ca: files.ca)).listeners[0].ssl.cacertfile, files.ca)
    }

    func testAPIAndClusterSSLOptionsFromTheFileAndTheEnvironment() throws {
        let files = try makeCertificates()
        let config = try load("""
            [api]
            port = 18443
            [api.ssl_options]
            certfile = "\(files.cert)"
            keyfile = "\(files.key)"
            [cluster.ssl_options]
            certfile = "\(files.cert)"
            """, env: ["STARLING_CLUSTER__SSL_OPTIONS__KEYFILE": files.key, "STARLING_API__SSL_OPTIONS__CACERTFILE": files.ca])
        XCTAssertEqual(config.api.ssl, SSLOptions(certfile: files.cert, keyfile: files.key, cacertfile: files.ca))
        XCTAssertEqual(config.clusterSSL, SSLOptions(certfile: files.cert, keyfile: files.key, verify: .verifyPeer, failIfNoPeerCert: true))
        XCTAssertTrue(config.api.ssl.isConfigured)
        XCTAssertFalse(ServerConfig().api.ssl.isConfigured)
        XCTAssertEqual(try load(config.renderTOML()), config)
        XCTAssertTrue(config.renderTOML().contains("[api.ssl_options]\ncertfile = \"\(files.cert)\""))
        XCTAssertEqual(config.changes(to: ServerConfig()).map(\.key).filter { $0.contains("ssl_options") },
                       ["api.ssl_options.certfile", "api.ssl_options.keyfile", "api.ssl_options.cacertfile",
                        "cluster.ssl_options.certfile", "cluster.ssl_options.keyfile"])
        // The API's files are checked like a listener's; a disabled API is not checked.
        try assertError("[api.ssl_options]\ncertfile = \"\(files.cert)\"\n", mentions: [
            "api.ssl_options.keyfile: not set; the API serves HTTPS when certfile and keyfile are both set"])
        try assertError("[api.ssl_options]\ncertfile = \"\(files.cert)\"\nkeyfile = \"\(files.otherKey)\"\n", mentions: [
            "api.ssl_options.keyfile = \"\(files.otherKey)\": the key does not match the certificate in api.ssl_options.certfile"])
        XCTAssertFalse(try load("[api]\nenabled = false\n[api.ssl_options]\nkeyfile = \"nowhere\"\n").api.enabled)
        try assertError("[node.ssl_options]\ncertfile = \"x\"\n", mentions: ["node.ssl_options"])
    }

    func testClusterTLSIsCheckedOnAClusteredNodeAndAlwaysVerifiesThePeer() throws {
        let files = try makeCertificates()
        let clustered = "[cluster]\ncookie = \"c\"\n[cluster.ssl_options]\n"
        let good = "certfile = \"\(files.cert)\"\nkeyfile = \"\(files.key)\"\ncacertfile = \"\(files.ca)\"\n"
        let config = try load(clustered + good)
        XCTAssertEqual(config.clusterSSL, SSLOptions(certfile: files.cert, keyfile: files.key, cacertfile: files.ca,
                                                     verify: .verifyPeer, failIfNoPeerCert: true))
        XCTAssertTrue(ServerConfig().renderTOML().contains("[cluster.ssl_options]\n"))
        XCTAssertTrue(ServerConfig().renderTOML().contains("verify = \"verify_peer\"\nfail_if_no_peer_cert = true\n"))
        let missing = directory.appendingPathComponent("missing.pem").path
        let cases: [(String, [String])] = [
            ("certfile = \"\(files.cert)\"\nkeyfile = \"\(files.key)\"\n",
             ["cluster.ssl_options.cacertfile: not set; cluster links verify each other's certificates against the CAs in it"]),
            (good + "verify = \"verify_none\"\n",
             ["cluster.ssl_options.verify = \"verify_none\": cluster links always verify the peer's certificate against cacertfile"]),
            (good + "fail_if_no_peer_cert = false\n", ["cluster.ssl_options.fail_if_no_peer_cert = false: every node presents its certificate"]),
            ("certfile = \"\(files.cert)\"\ncacertfile = \"\(files.ca)\"\n",
             ["cluster.ssl_options.keyfile: not set; cluster links speak TLS when certfile and keyfile are both set"]),
            (good.replacingOccurrences(of: files.cert, with: missing),
             ["cluster.ssl_options.certfile = \"\(missing)\": cannot read the file: No such file or directory"]),
            (good.replacingOccurrences(of: files.key, with: files.otherKey),
             ["cluster.ssl_options.keyfile = \"\(files.otherKey)\": the key does not match the certificate in cluster.ssl_options.certfile"]),
            (good.replacingOccurrences(of: files.ca, with: files.key), ["cluster.ssl_options.cacertfile = \"\(files.key)\": holds no PEM certificate"]),
            (good + "ciphers = [\"NO-SUCH-CIPHER\"]\n", ["cluster.ssl_options.ciphers: unknown TLS 1.2 cipher suite"]),
        ]
        for (table, parts) in cases { try assertError(clustered + table, mentions: parts) }
        // Without a cookie there is no cluster: the table is not checked.
        XCTAssertEqual(try load("[cluster.ssl_options]\ncertfile = \"\(missing)\"\n").clusterSSL.certfile, missing)
    }

    func testChangedSSLOptionsAreReportedWithThePasswordHidden() {
        func config(_ certfile: String, _ password: String) -> ServerConfig {
            ServerConfig(listeners: [ListenerConfig(kind: .ssl, name: "a", port: 8883,
                                                    ssl: SSLOptions(certfile: certfile, keyfile: "k.pem", password: password))])
        }
        let changes = config("a.pem", "one").changes(to: config("b.pem", "two"))
        XCTAssertEqual(changes.map(\.key), ["listeners.ssl.a.ssl_options.certfile", "listeners.ssl.a.ssl_options.password"])
        XCTAssertEqual(changes.map(\.new), ["\"b.pem\"", "(hidden)"])
        XCTAssertFalse(ServerConfig.isLive(key: changes[0].key))
        XCTAssertTrue(config("a.pem", "one").renderTOML().contains("# password: set (hidden)"))
    }

    func testHandshakeFailureReasons() {
        struct Failure: Error, CustomStringConvertible { let description: String }
        let cases: [(String, Bool, TLSHandshakeFailureReason)] = [
            ("handshakeFailed(sslError([error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED]))", false, .untrusted),
            ("handshakeFailed(sslError([error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED]))", true, .expired),
            ("sslError([error:100000c7:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE])", false, .noCertificate),
            ("sslError([error:100000f0:SSL routines:OPENSSL_internal:UNSUPPORTED_PROTOCOL])", false, .version),
            ("sslError([error:1000009c:SSL routines:OPENSSL_internal:HTTP_REQUEST])", false, .notTLS),
            ("sslError([error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER])", false, .notTLS),
            ("uncleanShutdown", false, .other),
        ]
        for (text, expired, reason) in cases {
            XCTAssertEqual(TLSHandshakeFailureReason.classify(Failure(description: text), certificateExpired: expired), reason, text)
        }
        XCTAssertEqual(TLSHandshakeFailureReason.summary(of: Failure(description: cases[0].0)), "CERTIFICATE_VERIFY_FAILED")
        XCTAssertEqual(TLSHandshakeFailureReason.summary(of: Failure(description: "uncleanShutdown")), "uncleanShutdown")
        let failures = TLSHandshakeFailures(listeners: ["ssl.a"])
        failures.record(.expired, listener: "ssl.a")
        XCTAssertTrue(failures.prometheusText().contains("starling_tls_handshake_failures_total{listener=\"ssl.a\",reason=\"expired\"} 1\n"))
        XCTAssertTrue(failures.prometheusText().contains("starling_tls_handshake_failures_total{listener=\"ssl.a\",reason=\"timeout\"} 0\n"))
        XCTAssertEqual(TLSHandshakeFailures(listeners: []).prometheusText(), "")
    }

    func testPeerCertIdentityKeysFromTheFileAndTheEnvironment() throws {
        XCTAssertEqual(ServerConfig().settings.mqtt.peerCertAsUsername, PeerCertificateField.none)
        XCTAssertEqual(ServerConfig().settings.mqtt.peerCertAsClientId, PeerCertificateField.none)
        let config = try load("[mqtt]\npeer_cert_as_username = \"CN\"\npeer_cert_as_clientid = \"dn\"\n")
        XCTAssertEqual(config.settings.mqtt.peerCertAsUsername, .cn)
        XCTAssertEqual(config.settings.mqtt.peerCertAsClientId, .dn)
        XCTAssertTrue(config.renderTOML().contains("peer_cert_as_username = \"cn\"\npeer_cert_as_clientid = \"dn\""))
        XCTAssertEqual(try load(config.renderTOML()), config)
        let fromEnv = try load(nil, env: ["STARLING_MQTT__PEER_CERT_AS_USERNAME": "dn", "STARLING_MQTT__PEER_CERT_AS_CLIENTID": "cn"])
        XCTAssertEqual(fromEnv.settings.mqtt.peerCertAsUsername, .dn)
        XCTAssertEqual(fromEnv.settings.mqtt.peerCertAsClientId, .cn)
        try assertError("[mqtt]\npeer_cert_as_username = \"email\"\n",
                        mentions: ["mqtt.peer_cert_as_username = \"email\"", "one of none, cn, dn"])
        try assertError(nil, env: ["STARLING_MQTT__PEER_CERT_AS_CLIENTID": "subject"],
                        mentions: ["STARLING_MQTT__PEER_CERT_AS_CLIENTID", "one of none, cn, dn"])
    }

    /// The subject of openssl-made certificates, against what `openssl x509 -nameopt RFC2253,-esc_msb` prints.
    func testCertificateSubjectAsOpenSSLPrintsIt() throws {
        let dir = directory.path
        func openssl(_ arguments: [String]) throws -> String {
            let output = try Process(URL(fileURLWithPath: "/usr/bin/openssl"), arguments, environment: [:]).runToEnd(timeout: 30)
            XCTAssertEqual(output.status, 0, "openssl \(arguments): \(output)")
            return output.stdout
        }
        let subjects = ["/C=GB/O=Example, Inc./OU=dev+OU=ops/CN=alice", "/CN= spaced #name /emailAddress=a@example.com",
                        "/DC=org/DC=example/UID=u1/CN=bob;<x>", "/O=Übung \"quoted\"/CN=first/CN=last"]
        for (index, subject) in subjects.enumerated() {
            let pem = "\(dir)/subject\(index).pem"
            _ = try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", "\(dir)/subject\(index).key", "-out", pem, "-days", "1", "-utf8", "-multivalue-rdn",
                             "-subj", subject])
            // Non-ASCII as UTF-8 (RFC 4514), where OpenSSL's RFC2253 alone would print "\C3\9C".
            let printed = try openssl(["x509", "-in", pem, "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"])
                .trimmingCharacters(in: .newlines)
            let parsed = try XCTUnwrap(CertificateSubject(certificateDER: der(pem)), subject)
            XCTAssertEqual("subject=" + parsed.distinguishedName, printed, subject)
        }
        let alice = try XCTUnwrap(CertificateSubject(certificateDER: der("\(dir)/subject0.pem")))
        XCTAssertEqual(alice.commonName, "alice")
        let last = try XCTUnwrap(CertificateSubject(certificateDER: der("\(dir)/subject3.pem")))
        XCTAssertEqual(last.commonName, "last")
        XCTAssertNil(CertificateSubject(certificateDER: [0x30, 0x03, 0x02, 0x01, 0x00]))
        XCTAssertNil(CertificateSubject(certificateDER: [0x30, 0x80]))
        XCTAssertEqual(CertificateSubject.escaped("#a, b "), "\\#a\\, b\\ ")
    }

    /// Certificates as plugins get them (`peer_cert_pem`): byte for byte what `openssl x509` wrote,
    /// 64-character base64 lines ending in "\n", one block after another.
    func testCertificatePEMAsOpenSSLWritesIt() throws {
        let certificates = try TestCertificates(in: directory)
        let ca = try String(contentsOfFile: certificates.ca, encoding: .utf8)
        let server = try String(contentsOfFile: certificates.server, encoding: .utf8)
        XCTAssertEqual(CertificatePEM.encode([try der(certificates.server)]), server)
        XCTAssertEqual(CertificatePEM.encode([try der(certificates.server), try der(certificates.ca)]), server + ca)
        XCTAssertEqual(CertificatePEM.encode([Array(repeating: 0xFF, count: 48)]),
                       "-----BEGIN CERTIFICATE-----\n" + String(repeating: "/", count: 64) + "\n-----END CERTIFICATE-----\n")
        XCTAssertEqual(CertificatePEM.encode([]), "")
    }

    /// The DER bytes of the PEM certificate at `path`.
    private func der(_ path: String) throws -> [UInt8] {
        let base64 = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return [UInt8](try XCTUnwrap(Data(base64Encoded: base64)))
    }
}
