import NIOCore
import XCTest
@testable import StarlingKernel

/// The text of `$SYS` payloads.
final class SysPayloadTests: XCTestCase {
    func testJSONStringsAreEscaped() {
        XCTAssertEqual(JSONObjectWriter.quoted("a\"b\\c\nd\u{01}é"), #""a\"b\\c\nd\u0001é""#)
    }

    func testEventFieldsInOrder() {
        let event = ClientDisconnectedEvent(clientId: "c\"1", username: nil, reason: .keepaliveTimeout,
                                            disconnectedAtMilliseconds: 1_700_000_000_123)
        XCTAssertEqual(event.json,
                       #"{"clientid":"c\"1","username":null,"reason":"keepalive_timeout","disconnected_at":1700000000123}"#)
    }

    func testPeriodicTopicsCarryTheStats() {
        var stats = BrokerStats()
        stats.connections = 3
        stats.dropped = ["queue_full": 2, "expired": 1]
        stats.packetsReceived = ["publish": 5, "connect": 3]
        let topics = Dictionary(uniqueKeysWithValues: SysTopics.periodic(node: "n@h", stats: stats, datetime: "D")
            .map { ($0.topic, $0.payload) })
        XCTAssertEqual(topics["$SYS/brokers/n@h/stats/connections/count"], "3")
        XCTAssertEqual(topics["$SYS/brokers/n@h/metrics/messages/dropped"], "3")
        XCTAssertEqual(topics["$SYS/brokers/n@h/metrics/messages/dropped/queue_full"], "2")
        XCTAssertEqual(topics["$SYS/brokers/n@h/metrics/packets/received"], "8")
        XCTAssertEqual(topics["$SYS/brokers/n@h/metrics/packets/publish/received"], "5")
        XCTAssertEqual(topics["$SYS/brokers/n@h/datetime"], "D")
    }

    func testDateTimeIsISO8601UTC() {
        XCTAssertNotNil(NIODeadline.wallClockISO8601.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/))
    }
}
