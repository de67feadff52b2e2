import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import NIOSSL
@testable import StarlingServer
import StarlingTestSupport
import XCTest

/// ABI 1.4 through a real TLS listener (verify_peer, certificates made with openssl): the
/// client_connect, authenticate and authorize events of a client that presented a certificate carry
/// its subject DN, CN and PEM; those of a TLS client without one, and of a plain TCP client, carry
/// NULL and 0. The test plugin logs what it sees and writes the PEM it got to a file.
final class CertificateEventTests: PluginTestCase, @unchecked Sendable {
    private static let hooks = ["client_connect", "authenticate", "authorize_subscribe", "authorize_publish"]

    func testEventsCarryTheVerifiedClientCertificateAndNothingWithoutOne() async throws {
        let certificates = try TestCertificates(in: directory)
        let alice = try certificates.client("alice", subject: "/C=GB/O=Example/CN=alice")
        let seen = directory.appendingPathComponent("seen")
        try FileManager.default.createDirectory(at: seen, withIntermediateDirectories: true)
        try await startNode(plugins: [entry(try buildTestPlugin(), ["log_certs": seen.path])]) { config in
            var ssl = SSLOptions()
            ssl.certfile = certificates.server
            ssl.keyfile = certificates.serverKey
            ssl.cacertfile = certificates.ca
            ssl.verify = .verifyPeer
            config.listeners.append(ListenerConfig(kind: .ssl, name: "default", port: 0, ssl: ssl))
        }
        let tlsPort = try XCTUnwrap(try node.listeners.first { $0.config.kind == .ssl }?.address.port)

        try await subscribeAndPublish(try await connect(tlsConfiguration("alice-device", port: tlsPort, certificates,
                                                                         client: alice)))
        try await subscribeAndPublish(try await connect(tlsConfiguration("tls-device", port: tlsPort, certificates,
                                                                         client: nil)))
        try await subscribeAndPublish(try await connect("plain-device"))

        // The verified chain: the client's certificate, then the CA's.
        let pem = try String(contentsOfFile: alice.certificate, encoding: .utf8)
            + String(contentsOfFile: certificates.ca, encoding: .utf8)
        let dn = "CN=alice,O=Example,C=GB"
        for hook in Self.hooks {
            try await log.wait(for: "\(hook) alice-device cert cn alice (5) dn \(dn) (\(dn.utf8.count)) pem \(pem.utf8.count)")
            let written = try String(contentsOf: seen.appendingPathComponent("\(hook)-alice-device.pem"), encoding: .utf8)
            XCTAssertEqual(written, pem, "\(hook): the PEM is the client's certificate, then the CA's")
            for clientId in ["tls-device", "plain-device"] {
                try await log.wait(for: "\(hook) \(clientId) cert none")
                XCTAssertFalse(FileManager.default.fileExists(atPath: seen.appendingPathComponent("\(hook)-\(clientId).pem").path))
            }
        }
    }

    /// A configuration for the node's TLS listener at `port`, trusting the test CA and presenting
    /// `client`'s certificate (none when nil).
    private func tlsConfiguration(_ clientId: String, port: Int, _ certificates: TestCertificates,
                                  client: (certificate: String, key: String)?) throws -> MQTTClientConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificates.ca)
        if let client {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(client.certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: client.key, format: .pem))
        }
        let context = try NIOSSLContext(configuration: tls)
        var configuration = try clientConfiguration(clientId)
        configuration.port = port
        configuration.transportHandlers = { channel in
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
        }
        return configuration
    }

    /// One SUBSCRIBE and one QoS 1 PUBLISH, whose acknowledgements come after their authorize hooks.
    private func subscribeAndPublish(_ client: MQTTClient) async throws {
        _ = try await client.subscribe([TopicSubscription(filter: "certs/#", qos: .atMostOnce)])
        _ = try await client.publish("certs/\(client.configuration.clientId)", payload: "x", qos: .atLeastOnce)
    }
}
