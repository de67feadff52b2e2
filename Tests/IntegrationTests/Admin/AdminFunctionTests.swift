import Foundation
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// `POST /api/v1/plugins/{plugin}/functions/{function}` and `starling ctl plugins call`: the
/// functions a C plugin exports (Fixtures/services_plugin.c), called through libffi, with JSON or
/// text arguments; wrong calls are 400s and unknown names 404s, each with a clear message.
final class AdminFunctionTests: AdminTestCase, @unchecked Sendable {
    private func loadServicesPlugin() async throws {
        let path = try PluginBuilder.fixture("services_plugin", into: directory, output: "svc.so")
        let loaded = try await request(.POST, "/api/v1/plugins", json: #"{"path": "\#(path)", "name": "svc"}"#)
        XCTAssertEqual(loaded.status, .created, loaded.text)
    }

    private func call(_ function: String, _ body: String?) async throws -> AdminClientResponse {
        try await request(.POST, "/api/v1/plugins/svc/functions/\(function)", json: body)
    }

    /// GET /api/v1/plugins/{name} lists the exported functions with their signatures, by name
    /// (as the plugin declared them, spaces dropped); a plugin that exports none has an empty list.
    func testShowListsTheExportedFunctionsWithTheirSignatures() async throws {
        try await loadServicesPlugin()
        let shown = try await request(.GET, "/api/v1/plugins/svc")
        XCTAssertEqual(shown.status, .ok, shown.text)
        let functions = try XCTUnwrap(shown.json?["functions"]?.array, shown.text)
        let pairs = functions.compactMap { item -> String? in
            guard let name = item["name"]?.string, let signature = item["signature"]?.string else { return nil }
            return "\(name) \(signature)"
        }
        XCTAssertEqual(pairs, ["add int64(int64,int64)", "count int64(string,int64)", "gauge int64(string,int64)",
                               "greet string(string)", "mixed string(int64,double,bool,string)", "nap int64(int64)",
                               "negate bool(bool)", "publish_text int64(string,string)",
                               "relay int64(string,string,int64,int64)", "scale double(double,double)", "touch void()",
                               "unsubscribe_all int64()"])
        let listed = try await request(.GET, "/api/v1/plugins")
        XCTAssertEqual(listed.json?["data"]?.array?.first?["functions"]?.array?.count, 12, listed.text)
    }

    func testCallsWithJSONAndTextArguments() async throws {
        try await loadServicesPlugin()
        let mixed = try await call("mixed", #"{"args": [7, 2.5, true, "x"]}"#)
        XCTAssertEqual(mixed.status, .ok, mixed.text)
        XCTAssertEqual(mixed.json?["result"]?.string, "i=7 d=2.50 b=1 s=x")
        let asText = try await call("mixed", #"{"args": ["-7", "3", "false", "y"]}"#)
        XCTAssertEqual(asText.json?["result"]?.string, "i=-7 d=3.00 b=0 s=y", asText.text)
        let sum = try await call("add", #"{"args": [40, 2]}"#)
        XCTAssertEqual(sum.json?["result"], .int(42), sum.text)
        let product = try await call("scale", #"{"args": [1.5, 3]}"#)
        XCTAssertEqual(product.json?["result"], .double(4.5), product.text)
        let negated = try await call("negate", #"{"args": [true]}"#)
        XCTAssertEqual(negated.json?["result"], .bool(false), negated.text)
        let void = try await call("touch", nil)
        XCTAssertEqual(void.status, .ok, void.text)
        XCTAssertEqual(void.json?["result"], .null)

        let count = try await call("add", #"{"args": [1]}"#)
        XCTAssertEqual(count.status, .badRequest)
        XCTAssertEqual(count.errorMessage, "int64(int64,int64) takes 2 arguments, 1 given")
        let type = try await call("add", #"{"args": [1, "two"]}"#)
        XCTAssertEqual(type.status, .badRequest)
        XCTAssertEqual(type.errorMessage, "argument 2 of int64(int64,int64): expected int64, got the string \"two\"")
        let notArray = try await call("add", #"{"args": 1}"#)
        XCTAssertEqual(notArray.status, .badRequest, notArray.text)
        let unknown = try await call("nope", nil)
        XCTAssertEqual(unknown.status, .notFound)
        XCTAssertTrue(unknown.errorMessage.hasPrefix("plugin svc exports no function named nope (it exports: add, "), unknown.errorMessage)
        let ghost = try await request(.POST, "/api/v1/plugins/ghost/functions/add", json: #"{"args": [1, 2]}"#)
        XCTAssertEqual(ghost.status, .notFound)
        XCTAssertEqual(ghost.errorMessage, "no plugin named ghost is loaded")
    }
}

extension AdminFunctionTests {
    /// What `host->counter_add` and `host->gauge_set` report, in `/api/v1/metrics` and `/api/v1/prometheus`.
    func testPluginMetricsInMetricsJSONAndPrometheus() async throws {
        try await loadServicesPlugin()
        let counted = try await call("count", #"{"args": ["jobs_total", 3]}"#)
        XCTAssertEqual(counted.json?["result"], .int(0), counted.text)
        let gauged = try await call("gauge", #"{"args": ["backlog", -2]}"#)
        XCTAssertEqual(gauged.json?["result"], .int(0), gauged.text)
        let metrics = try await get("/api/v1/metrics")
        XCTAssertEqual(metrics["plugin.svc.jobs_total"], .int(3))
        XCTAssertEqual(metrics["plugin.svc.backlog"], .int(-2))
        let prometheus = try await request(.GET, "/api/v1/prometheus")
        XCTAssertEqual(prometheus.status, .ok)
        XCTAssertTrue(prometheus.text.contains("starling_plugin_jobs_total{plugin=\"svc\"} 3"), prometheus.text)
        XCTAssertTrue(prometheus.text.contains("starling_plugin_backlog{plugin=\"svc\"} -2"), prometheus.text)
    }
}

extension CtlTests {
    func testPluginsCall() async throws {
        let path = try PluginBuilder.fixture("services_plugin", into: directory, output: "ctl-svc.so")
        assertSuccess(try await ctl("plugins", "load", path, "--name", "svc"))
        let sum = try await ctl("plugins", "call", "svc", "add", "40", "2")
        assertSuccess(sum)
        XCTAssertEqual(sum.stdout, "42\n")
        let mixed = try await ctl("plugins", "call", "svc", "mixed", "--", "-1", "0.5", "true", "hi")
        assertSuccess(mixed)
        XCTAssertEqual(mixed.stdout, "i=-1 d=0.50 b=1 s=hi\n")
        let negated = try await ctl("plugins", "call", "svc", "negate", "false")
        XCTAssertEqual(negated.stdout, "true\n")
        let show = try await ctl("plugins", "show", "svc")
        assertSuccess(show)
        XCTAssertTrue(show.stdout.contains("\nfunctions    add: int64(int64,int64), count: int64(string,int64), gauge: "
                                           + "int64(string,int64), greet: string(string), "), show.stdout)
        XCTAssertTrue(show.stdout.contains("touch: void(), unsubscribe_all: int64()\n"), show.stdout)
        assertFailure(try await ctl("plugins", "call", "svc", "add", "1"),
                      "int64(int64,int64) takes 2 arguments, 1 given (HTTP 400)")
        assertFailure(try await ctl("plugins", "call", "ghost", "add"), "no plugin named ghost is loaded (HTTP 404)")
    }
}
