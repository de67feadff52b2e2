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

    /// The shipped plugins build with plugins/Makefile's line and export the three entry points only.
    func testShippedPluginsBuildWithThePlainLineAndExportOnlyTheEntryPoints() throws {
        let makefile = try String(contentsOf: repositoryRoot.appendingPathComponent("plugins/Makefile"), encoding: .utf8)
        XCTAssertTrue(makefile.contains("cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude"))
        for (source, output) in [("plugins/hello-c/hello.c", "hello-c.so"),
                                 ("plugins/acl-deny-topic-c/acl_deny_topic.c", "acl-deny-topic-c.so"),
                                 ("plugins/auth-password-file/auth_password_file.c", "auth-password-file.so")] {
            let plugin = try PluginBuilder.build(source, into: directory, output: output)
            let symbols = try PluginBuilder.run("nm", ["-D", "--defined-only", plugin])
                .split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            XCTAssertEqual(symbols.sorted(), ["starling_plugin_cleanup", "starling_plugin_init", "starling_plugin_version"],
                           source)
        }
    }
}
