import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
@testable import StarlingAdmin
import StarlingServer
import XCTest
import StarlingTestSupport

/// How the API starts: where it binds with and without keys, a port in use, a bad key file, and
/// who may call it.
final class AdminStartTests: XCTestCase {
    var directory = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("starling-admin-start")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func start(apiBind: String, apiPort: Int = 0) async throws -> BrokerProcess {
        var config = TestNode.config(dataDir: directory.path)
        config.api = APIConfig(bind: apiBind, port: apiPort)
        return try await TestNode.start(config)
    }

    func testWithoutKeysANonLoopbackBindFallsBackTo127001() async throws {
        let fallback = try await start(apiBind: "0.0.0.0")
        XCTAssertEqual(fallback.apiAddress?.ipAddress, "127.0.0.1")
        await fallback.stop()

        _ = try APIKeyStore(directory: directory.path).create(name: "ops")
        let open = try await start(apiBind: "0.0.0.0")
        XCTAssertEqual(open.apiAddress?.ipAddress, "0.0.0.0", "with a key the configured address is bound")
        await open.stop()
    }

    func testAnAPIPortInUseStopsTheStart() async throws {
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { taken.close(promise: nil) }
        let port = taken.localAddress!.port!
        do {
            let node = try await start(apiBind: "127.0.0.1", apiPort: port)
            await node.stop()
            XCTFail("the node started with its API port taken")
        } catch let error as NodeStartError {
            XCTAssertTrue(error.message.hasPrefix("cannot listen on 127.0.0.1:\(port) (api): "), error.message)
        }
    }

    func testAnUnreadableKeyFileStopsTheStart() async throws {
        try "not json".write(to: directory.appendingPathComponent("api_keys.json"), atomically: true, encoding: .utf8)
        do {
            let node = try await start(apiBind: "127.0.0.1")
            await node.stop()
            XCTFail("the node started with a broken key file")
        } catch let error as NodeStartError {
            XCTAssertTrue(error.message.hasPrefix("cannot read the API key file \(directory.path)/api_keys.json"), error.message)
        }
    }

    func testAccessPolicy() throws {
        let keys = try APIKeyStore(directory: directory.path)
        let policy = AccessPolicy(keys: keys)
        func request(from host: String, authorization: String? = nil) throws -> AdminRequest {
            var headers = HTTPHeaders()
            if let authorization { headers.add(name: "Authorization", value: authorization) }
            return AdminRequest(method: .GET, path: "/api/v1/status", query: QueryParameters(), headers: headers,
                                body: ByteBuffer(), remoteAddress: try SocketAddress(ipAddress: host, port: 40000))
        }
        func allowed(_ request: AdminRequest) -> Bool { (try? policy.check(request)) != nil }

        // No key yet: loopback only.
        XCTAssertTrue(allowed(try request(from: "127.0.0.1")))
        XCTAssertTrue(allowed(try request(from: "127.8.9.10")))
        XCTAssertTrue(allowed(try request(from: "::1")))
        XCTAssertFalse(allowed(try request(from: "10.1.2.3")))
        XCTAssertFalse(allowed(try request(from: "::ffff:10.1.2.3")))

        let created = try keys.create(name: "ops")
        let basic = "Basic " + Data("\(created.key):\(created.secret)".utf8).base64EncodedString()
        XCTAssertFalse(allowed(try request(from: "127.0.0.1")))
        XCTAssertTrue(allowed(try request(from: "10.1.2.3", authorization: basic)))
        XCTAssertTrue(allowed(try request(from: "10.1.2.3", authorization: "basic  " + basic.dropFirst(6))))
        XCTAssertFalse(allowed(try request(from: "10.1.2.3", authorization: "Bearer " + created.secret)))
        XCTAssertFalse(allowed(try request(from: "10.1.2.3", authorization: "Basic !!!")))
        let wrong = "Basic " + Data("\(created.key):x\(created.secret)".utf8).base64EncodedString()
        XCTAssertFalse(allowed(try request(from: "127.0.0.1", authorization: wrong)))
    }

    func testAPIDisabled() async throws {
        let node = try await TestNode.start(TestNode.config(dataDir: directory.path))
        XCTAssertNil(node.apiAddress)
        await node.stop()
    }
}
