import Foundation
import XCTest
import StarlingTestSupport

/// Shipped plugins that need a later ABI minor, on a broker of ABI 1.0 (Fixtures/old_broker_host.c:
/// a host table without verify_password, abi_minor 0): init fails and says why.
final class OldBrokerTests: XCTestCase {
    func testAuthPasswordFileNeedsVerifyPassword() throws {
        XCTAssertEqual(try initOnOldBroker("plugins/auth-password-file/auth_password_file.c", "auth-password-file.so"), """
            log 5 this broker lacks verify_password (plugin ABI 1.1): upgrade the broker to use auth-password-file
            init returned 1

            """)
    }

    func testAuthCertNeedsTheCertificateInTheEvents() throws {
        XCTAssertEqual(try initOnOldBroker("plugins/auth-cert/auth_cert.c", "auth-cert.so"), """
            log 5 this broker does not pass client certificates to plugins (plugin ABI 1.4): upgrade the broker to use auth-cert
            init returned 1

            """)
    }

    /// What the old broker prints when it loads the plugin built from `source` and calls its init.
    private func initOnOldBroker(_ source: String, _ output: String) throws -> String {
        let directory = try makeTemporaryDirectory("starling-plugins")
        defer { try? FileManager.default.removeItem(at: directory) }
        let plugin = try PluginBuilder.build(source, into: directory, output: output)
        let host = directory.appendingPathComponent("old-broker").path
        try PluginBuilder.run("cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-I", PluginBuilder.include.path, "-o", host,
                                     PluginBuilder.fixtures.appendingPathComponent("old_broker_host.c").path, "-ldl"])
        return try PluginBuilder.run(host, [plugin, "/nonexistent"])
    }
}
