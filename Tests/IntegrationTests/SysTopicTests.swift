import Foundation
import MQTTClient
import MQTTCore
import StarlingKernel
import XCTest

/// `$SYS/brokers/{node}/…` as a subscriber sees it.
final class SysTopicTests: IntegrationTestCase, @unchecked Sendable {
    private let prefix = "$SYS/brokers/starling@127.0.0.1"

    /// A new interval put in force while the node runs starts the periodic topics at once.
    func testIntervalSetAtRunTimeApplies() async throws {
        let watcher = try await connect("sys-watcher")
        try await watcher.subscribe("$SYS/brokers/+/uptime", "$SYS/brokers/+/stats/connections/count", qos: .atMostOnce)
        let broker = try node.broker
        var settings = broker.settings
        settings.sys.interval = 1
        broker.update(settings: settings)
        let received = try await watcher.messages.wait(for: 2, timeout: .seconds(3))
        XCTAssertEqual(Set(received.topics), ["\(prefix)/uptime", "\(prefix)/stats/connections/count"])
        XCTAssertEqual(received.first { $0.topic.hasSuffix("/count") }?.text, "1")
        XCTAssertFalse(received.contains { $0.retain })
    }

    /// The version is retained: a late subscriber gets it with the retain flag.
    func testVersionIsRetained() async throws {
        let late = try await connect("sys-late")
        try await late.subscribe("$SYS/brokers/+/version", qos: .atMostOnce)
        let version = try await late.messages.wait(for: 1)[0]
        XCTAssertEqual(version.topic, "\(prefix)/version")
        XCTAssertTrue(version.retain)
        XCTAssertFalse(version.text.isEmpty)
    }

    /// A takeover ends the old connection with reason `takeover` and connects the new one.
    func testTakeoverEvents() async throws {
        let watcher = try await connect("sys-events")
        try await watcher.subscribe("$SYS/brokers/+/clients/sys-twice/#", qos: .atMostOnce)
        _ = try await connect("sys-twice", version: .v3_1_1)
        _ = try await connect("sys-twice")
        let events = try await watcher.messages.wait(for: 3)
        let byName = Dictionary(grouping: events) { $0.topic.split(separator: "/").last.map(String.init) ?? "" }
        XCTAssertEqual(byName["connected"]?.count, 2)
        let disconnected = try XCTUnwrap(byName["disconnected"]?.first)
        let payload = try JSONSerialization.jsonObject(with: Data(disconnected.payload.readableBytesView)) as? [String: Any]
        XCTAssertEqual(payload?["reason"] as? String, "takeover")
        XCTAssertEqual(payload?["clientid"] as? String, "sys-twice")
        XCTAssertTrue(payload?["username"] is NSNull)
        let versions = try byName["connected"]!.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.payload.readableBytesView)) as? [String: Any])["proto_ver"] as? Int
        }
        XCTAssertEqual(versions, [4, 5])
    }
}
