import CStarlingPlugin
import Foundation
import XCTest
import StarlingTestSupport

/// The public header as plugin authors meet it: standalone C99 and C++, a stable v1 layout, and
/// the shipped plugins built with the one plain `cc` line.
final class HeaderTests: XCTestCase {
    private var directory: URL!

    override func setUp() async throws {
        directory = try makeTemporaryDirectory("starling-plugins")
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The header compiles alone as C99 and as C++11, pedantic, every warning an error.
    func testHeaderCompilesAsC99AndAsCPlusPlus() throws {
        let source = """
            #include <starling/plugin.h>
            static int uses(const starling_host_api *host) {
                return STARLING_HAS_MEMBER(host, starling_host_api, kick) ? STARLING_OK : STARLING_ERR_UNSUPPORTED;
            }
            static starling_host_api host;
            int main(void) {
                host.struct_size = sizeof host;
                return uses(&host);
            }
            """
        let file = directory.appendingPathComponent("uses_header.c")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let include = PluginBuilder.include.path
        try PluginBuilder.run("cc", ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I", include, "-c",
                                     file.path, "-o", directory.appendingPathComponent("c.o").path])
        try PluginBuilder.run("c++", ["-std=c++11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-x", "c++", "-I", include,
                                      "-c", file.path, "-o", directory.appendingPathComponent("cxx.o").path])
    }

    /// Every field offset and constant of ABI v1 is where the frozen v1 header has it.
    func testCurrentHeaderKeepsTheFrozenV1Layout() throws {
        func layout(_ include: URL, _ name: String) throws -> String {
            let binary = directory.appendingPathComponent(name).path
            try PluginBuilder.run("cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-I", include.path, "-o", binary,
                                         PluginBuilder.fixtures.appendingPathComponent("abi_layout.c").path])
            return try PluginBuilder.run(binary, [])
        }
        let frozen = try layout(PluginBuilder.fixtures.appendingPathComponent("abi-v1"), "frozen")
        let current = try layout(PluginBuilder.include, "current")
        XCTAssertGreaterThan(frozen.split(separator: "\n").count, 80)
        XCTAssertEqual(current, frozen)
    }

    /// ABI 1.4: the client certificate's six fields follow every earlier field of client_connect,
    /// authenticate, authorize_publish and authorize_subscribe, as three pointer and length pairs
    /// that end the struct; STARLING_HAS_MEMBER says they are missing from a 1.3 broker's shorter
    /// event and there in this broker's, whose struct_size (Swift's stride) is C's sizeof.
    func testCertificateFieldsAreAppendedToTheirFourEvents() throws {
        let binary = directory.appendingPathComponent("certificate-layout").path
        try PluginBuilder.run("cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-I", PluginBuilder.include.path, "-o", binary,
                                     PluginBuilder.fixtures.appendingPathComponent("abi_certificate_layout.c").path])
        var lines = try PluginBuilder.run(binary, []).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(lines.first, ["STARLING_PLUGIN_ABI_MINOR", "4"])
        XCTAssertEqual(STARLING_PLUGIN_ABI_MINOR, 4)
        lines.removeFirst()
        let strides = ["starling_client_connect_event": MemoryLayout<starling_client_connect_event>.stride,
                       "starling_authenticate_event": MemoryLayout<starling_authenticate_event>.stride,
                       "starling_authorize_publish_event": MemoryLayout<starling_authorize_publish_event>.stride,
                       "starling_authorize_subscribe_event": MemoryLayout<starling_authorize_subscribe_event>.stride]
        XCTAssertEqual(lines.map { $0[0] }.sorted(), strides.keys.sorted())
        let word = MemoryLayout<Int>.size
        for line in lines {
            let type = line[0]
            let values = Dictionary(uniqueKeysWithValues: stride(from: 1, to: line.count - 1, by: 2).map { (line[$0], Int(line[$0 + 1])) })
            let end = try XCTUnwrap(values["earlier-end"] ?? nil, type)
            XCTAssertEqual(["dn", "dn_len", "cn", "cn_len", "pem", "pem_len"].map { values[$0] ?? nil },
                           (0..<6).map { end + $0 * word }, "\(type): six consecutive fields after the earlier ones")
            XCTAssertEqual(values["size"] ?? nil, end + 6 * word, "\(type): they end the struct")
            XCTAssertEqual(values["size"] ?? nil, strides[type], "\(type): the bridge's struct_size")
            XCTAssertEqual(values["older-has"] ?? nil, 0, type)
            XCTAssertEqual(values["has"] ?? nil, 1, type)
        }
    }

    /// The shipped plugins build with plugins/Makefile's line and export the three entry points only.
    func testShippedPluginsBuildWithThePlainLineAndExportOnlyTheEntryPoints() throws {
        let makefile = try String(contentsOf: repositoryRoot.appendingPathComponent("plugins/Makefile"), encoding: .utf8)
        XCTAssertTrue(makefile.contains("cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude"))
        for (source, output) in [("plugins/hello-c/hello.c", "hello-c.so"),
                                 ("plugins/acl-deny-topic-c/acl_deny_topic.c", "acl-deny-topic-c.so"),
                                 ("plugins/auth-password-file/auth_password_file.c", "auth-password-file.so"),
                                 ("plugins/auth-cert/auth_cert.c", "auth-cert.so")] {
            let plugin = try PluginBuilder.build(source, into: directory, output: output)
            let symbols = try PluginBuilder.run("nm", ["-D", "--defined-only", plugin])
                .split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            XCTAssertEqual(symbols.sorted(), ["starling_plugin_cleanup", "starling_plugin_init", "starling_plugin_version"],
                           source)
        }
    }
}
