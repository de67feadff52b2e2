import StarlingCluster
import StarlingKernel
import StarlingServer
import XCTest

/// The `[cluster]` section and the `--name`, `--cookie`, `--cluster-port` flags.
final class ClusterConfigTests: ConfigTestCase {
    func testDefaultsKeepTheClusterClosed() throws {
        let config = try load(nil)
        XCTAssertEqual(config.settings.nodeName, "starling@127.0.0.1")
        XCTAssertNil(config.cluster.cookie)
        XCTAssertFalse(config.cluster.isEnabled)
        XCTAssertEqual(config.cluster.port, 4370)
        XCTAssertEqual(config.cluster.seeds, [])
        XCTAssertEqual(config.cluster.heartbeatIntervalMilliseconds, 1000)
        XCTAssertEqual(config.cluster.downAfterMilliseconds, 3000)
    }

    func testFileKeys() throws {
        let config = try load("""
            [cluster]
            name = "n1@127.0.0.1"
            cookie = "SECRET"
            port = 4371
            bind = "127.0.0.1"
            seeds = ["n2@127.0.0.1:4372", "n3@127.0.0.1"]
            heartbeat_interval = "250ms"
            down_after = "2s"
            """)
        XCTAssertEqual(config.settings.nodeName, "n1@127.0.0.1")
        XCTAssertEqual(config.cluster, ClusterConfig(cookie: "SECRET", port: 4371, bind: "127.0.0.1",
                                                     seeds: ["n2@127.0.0.1:4372", "n3@127.0.0.1"],
                                                     heartbeatIntervalMilliseconds: 250, downAfterMilliseconds: 2000))
        // The rendered file hides the cookie and loads back to everything else.
        let rendered = config.renderTOML()
        XCTAssertFalse(rendered.contains("SECRET"), rendered)
        XCTAssertTrue(rendered.contains("# cookie: set (hidden)"), rendered)
        var reloaded = try load(rendered)
        reloaded.cluster.cookie = "SECRET"
        XCTAssertEqual(reloaded, config)
    }

    func testEnvironmentAndFlags() throws {
        let env = ["STARLING_CLUSTER__COOKIE": "from-env", "STARLING_CLUSTER__SEEDS": "a@10.0.0.1:4371, b@host",
                   "STARLING_CLUSTER__DOWN_AFTER": "5"]
        let fromEnv = try load(nil, env: env)
        XCTAssertEqual(fromEnv.cluster.cookie, "from-env")
        XCTAssertEqual(fromEnv.cluster.seeds, ["a@10.0.0.1:4371", "b@host"])
        XCTAssertEqual(fromEnv.cluster.downAfterMilliseconds, 5000)
        let flags = CommandLineOverrides(name: "n7@127.0.0.1", cookie: "from-flag", clusterPort: 5000)
        let fromFlags = try load(nil, env: env, flags: flags)
        XCTAssertEqual(fromFlags.settings.nodeName, "n7@127.0.0.1")
        XCTAssertEqual(fromFlags.cluster.cookie, "from-flag")
        XCTAssertEqual(fromFlags.cluster.port, 5000)
    }

    func testBadValuesAreNamed() throws {
        XCTAssertTrue(try loadError(nil, flags: CommandLineOverrides(name: "no-at-sign")).contains("--name"))
        XCTAssertTrue(try loadError(nil, flags: CommandLineOverrides(cookie: "")).contains("--cookie"))
        XCTAssertTrue(try loadError(nil, flags: CommandLineOverrides(clusterPort: 70000)).contains("--cluster-port"))
        let seeds = try loadError("[cluster]\nseeds = [\"n2@127.0.0.1:4372\", \"nonode\"]")
        XCTAssertTrue(seeds.contains("cluster.seeds") && seeds.contains("NAME@HOST"), seeds)
        let seedType = try loadError("[cluster]\nseeds = \"n2@127.0.0.1\"")
        XCTAssertTrue(seedType.contains("cluster.seeds"), seedType)
        let order = try loadError("[cluster]\nheartbeat_interval = \"3s\"\ndown_after = \"2s\"")
        XCTAssertTrue(order.contains("down_after") && order.contains("heartbeat_interval"), order)
        let clash = try loadError("[cluster]\ncookie = \"x\"\nport = 1883")
        XCTAssertTrue(clash.contains("cluster.port 1883") && clash.contains("tcp.default"), clash)
    }

    func testNodeAddresses() {
        XCTAssertEqual(PeerAddress(parsing: "n1@127.0.0.1"), PeerAddress(name: "n1@127.0.0.1", port: 4370))
        XCTAssertEqual(PeerAddress(parsing: "n1@127.0.0.1:4371"), PeerAddress(name: "n1@127.0.0.1", port: 4371))
        XCTAssertEqual(PeerAddress(parsing: "n1@[::1]:4371"), PeerAddress(name: "n1@::1", port: 4371))
        XCTAssertEqual(PeerAddress(parsing: "n1@host.example"), PeerAddress(name: "n1@host.example", port: 4370))
        for bad in ["n1", "@host", "n1@", "n1@host:0", "n1@host:x", "n 1@host", "n1@host:70000"] {
            XCTAssertNil(PeerAddress(parsing: bad), bad)
        }
    }
}
