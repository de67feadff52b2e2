import StarlingKernel
import StarlingServer
import XCTest

/// The `[sys]` section: `$SYS` publication interval and client events.
final class SysConfigTests: ConfigTestCase {
    func testDefaults() throws {
        let sys = try load(nil).settings.sys
        XCTAssertEqual(sys.interval, 30)
        XCTAssertTrue(sys.clientEvents)
    }

    func testFileAndEnvironment() throws {
        let config = try load("""
            [sys]
            interval = "1m"
            client_events = false
            """)
        XCTAssertEqual(config.settings.sys.interval, 60)
        XCTAssertFalse(config.settings.sys.clientEvents)
        XCTAssertEqual(try load(config.renderTOML()), config)
        XCTAssertEqual(try load(nil, env: ["STARLING_SYS__INTERVAL": "0"]).settings.sys.interval, 0)
    }

    func testIntervalOutOfRange() throws {
        let error = try loadError("[sys]\ninterval = -1")
        XCTAssertTrue(error.contains("interval") && error.contains("-1"), error)
    }
}
