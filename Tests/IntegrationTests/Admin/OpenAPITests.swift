import Foundation
import NIOHTTP1
import StarlingAdmin
import XCTest
import StarlingTestSupport

/// docs/openapi.yaml and the server agree: every route it lists answers (with path parameters
/// naming things that exist), with a 2xx status.
final class OpenAPITests: AdminTestCase, @unchecked Sendable {
    static let document = repositoryRoot.appendingPathComponent("docs/openapi.yaml")

    /// The `METHOD path` pairs under `paths:`: paths at two spaces of indent, methods at four.
    static func routes(in text: String) -> [(method: HTTPMethod, path: String)] {
        var routes: [(HTTPMethod, String)] = []
        var inPaths = false
        var path: String?
        for line in text.components(separatedBy: "\n") {
            if !line.hasPrefix(" ") && !line.isEmpty { inPaths = line == "paths:" }
            guard inPaths else { continue }
            if let match = line.wholeMatch(of: /\ \ (\/\S*):/) {
                path = String(match.1)
            } else if let match = line.wholeMatch(of: /\ {4}(get|put|post|delete|patch):.*/), let path {
                routes.append((HTTPMethod(rawValue: match.1.uppercased()), path))
            }
        }
        return routes
    }

    func testEveryDocumentedRouteAnswers() async throws {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        let routes = Self.routes(in: text)
        XCTAssertGreaterThanOrEqual(routes.count, 18, "docs/openapi.yaml lists too few routes: \(routes)")

        // Things for the path parameters to name, and a key to call with.
        let created = try await request(.POST, "/api/v1/api_keys", json: #"{"name": "openapi-key"}"#)
        let credentials = (key: try XCTUnwrap(created.json?["key"]?.string), secret: try XCTUnwrap(created.json?["secret"]?.string))
        let client = try await connect("openapi-client")
        try await client.subscribe("openapi/#")
        _ = try await client.mqtt.publish("openapi/topic", payload: "r", qos: .atLeastOnce, retain: true)
        // The services plugin exports functions; `touch` takes no arguments.
        let plugin = try PluginBuilder.fixture("services_plugin", into: directory, output: "openapi-plugin.so")
        let parameters = ["{clientid}": "openapi-client", "{topic}": "openapi%2Ftopic", "{name}": "openapi-new",
                          "{plugin}": "openapi-plugin", "{function}": "touch"]
        let bodies = ["/api/v1/publish": #"{"topic": "openapi/x", "payload": "p"}"#,
                      "/api/v1/publish/batch": #"[{"topic": "openapi/x"}]"#,
                      "/api/v1/api_keys": #"{"name": "openapi-new"}"#,
                      "/api/v1/plugins": #"{"path": "\#(plugin)"}"#]

        // Joining needs a second node with the same cookie: tests/python/test_cluster.py exercises it
        // (and here, on a node without a cookie, it must answer 409).
        let exercisedElsewhere = ["/api/v1/cluster/join"]
        let notClustered = try await request(.POST, "/api/v1/cluster/join", json: #"{"node": "n1@127.0.0.1"}"#,
                                             credentials: credentials)
        XCTAssertEqual(notClustered.status.code, 409, notClustered.text)

        // Deletions last, so that what they delete is still there for the others.
        let testable = routes.filter { !exercisedElsewhere.contains($0.path) }
        let ordered = testable.filter { $0.method != .DELETE } + testable.filter { $0.method == .DELETE }
        for (method, path) in ordered {
            let target = parameters.reduce(path) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            let response = try await request(method, target, json: method == .POST ? bodies[path] : nil,
                                             credentials: credentials)
            XCTAssertTrue((200..<300).contains(Int(response.status.code)),
                          "\(method) \(target) (docs/openapi.yaml \(path)): \(response.status.code) \(response.text)")
        }
    }

    func testTheParserFindsPathsAndMethods() {
        let routes = Self.routes(in: "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      x: 1\n    delete:\n  /b/{id}:\n"
                                     + "    parameters: []\n    post:\ncomponents:\n  /c:\n    get:\n")
        XCTAssertEqual(routes.map { "\($0.method) \($0.path)" }, ["GET /a", "DELETE /a", "POST /b/{id}"])
    }
}
