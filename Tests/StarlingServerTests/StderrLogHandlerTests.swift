import Foundation
import Logging
import StarlingServer
import XCTest

final class StderrLogHandlerTests: XCTestCase {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        var all: [String] { lock.withLock { stored } }
        func append(_ line: String) { lock.withLock { stored.append(line) } }
    }

    func testTimestampFormat() {
        XCTAssertEqual(StderrLogHandler.timestamp(secondsSince1970: 0, milliseconds: 7), "1970-01-01T00:00:00.007Z")
        XCTAssertEqual(StderrLogHandler.timestamp(secondsSince1970: 1_795_624_200, milliseconds: 123), "2026-11-25T16:30:00.123Z")
        let now = StderrLogHandler.timestamp()
        XCTAssertEqual(now.count, 24)
        XCTAssertTrue(now.hasSuffix("Z"))
    }

    func testLineHasLevelLabelMessageAndSortedMetadata() {
        let lines = Lines()
        var logger = Logger(label: "starling") { StderrLogHandler(label: $0, logLevel: .info, metadataProvider: nil, write: lines.append) }
        logger[metadataKey: "node"] = "n1"
        logger.debug("hidden")
        logger.info("listening", metadata: ["port": "1883", "bind": "127.0.0.1"])
        logger.error("failed")
        XCTAssertEqual(lines.all.count, 2)
        let first = lines.all[0]
        XCTAssertTrue(first.hasSuffix(" info starling: listening bind=127.0.0.1 node=n1 port=1883\n"), first)
        XCTAssertNotNil(first.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "#, options: .regularExpression), first)
        XCTAssertTrue(lines.all[1].hasSuffix(" error starling: failed node=n1\n"))
    }
}
