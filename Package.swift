// swift-tools-version:6.0
import PackageDescription

/// Shipped Swift plugins export the header's three entry points and nothing else, also in debug
/// builds, which compile with -enable-testing and would export every internal symbol.
let swiftPluginExports: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/plugins/exports.map"], .when(platforms: [.linux])),
]

/// The broker's own targets on the path of every message (the kernel, the plugin bridge, the
/// cluster) drop Swift's run-time exclusivity checks in release builds, where a measurement showed
/// it pays (docs/benchmarks.md, "exclusivity"). Debug builds, which the tests run, keep them, and the
/// compiler's static checks apply to both. `MQTTCore` and `MQTTClient` carry no unsafe flags, so that
/// another package can depend on them (SwiftPM refuses unsafe flags in a dependency).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Starling",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "starling", targets: ["starling"]),
        // The codec and the client, for bridges and tools in other packages. The kernel is not offered
        // as a library: the broker is extended through the C plugin ABI (include/starling/plugin.h).
        .library(name: "MQTTCore", targets: ["MQTTCore"]),
        .library(name: "MQTTClient", targets: ["MQTTClient"]),
        // The Swift plugins we ship, each a shared object exporting the header's three entry points
        // (.build/<config>/libstarling-hello-swift.so, libstarling-auth-http.so).
        .library(name: "starling-hello-swift", type: .dynamic, targets: ["HelloSwiftPlugin"]),
        .library(name: "starling-auth-http", type: .dynamic, targets: ["AuthHTTPPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // MQTT 3.1, 3.1.1 and 5.0 packets as values and their codec. No I/O.
        .target(
            name: "MQTTCore",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // Sessions, routing, retained messages, shared subscriptions, limits: the broker's kernel.
        .target(
            name: "StarlingKernel",
            dependencies: [
                "MQTTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        // The plugin ABI's public C header, include/starling/plugin.h: the very file plugin authors read.
        .target(
            name: "CStarlingPlugin",
            path: "include",
            exclude: ["README.md"],
            publicHeadersPath: "."
        ),
        // Shipped Swift plugins: each depends on the header only (plus the toolchain's Foundation),
        // because a Swift image is never unmapped and anything linked in is copied at every reload.
        .target(
            name: "HelloSwiftPlugin",
            dependencies: ["CStarlingPlugin"],
            path: "plugins/hello-swift",
            exclude: ["README.md"],
            linkerSettings: swiftPluginExports
        ),
        .target(
            name: "AuthHTTPPlugin",
            dependencies: ["CStarlingPlugin"],
            path: "plugins/auth-http",
            exclude: ["README.md"],
            linkerSettings: swiftPluginExports
        ),
        // Mosquitto password hashes ($6$ SHA-512, $7$ PBKDF2-SHA512) and password files.
        .target(
            name: "StarlingPasswords",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // libffi (Debian: libffi-dev), for calling functions plugins export by name.
        .systemLibrary(
            name: "CFFI",
            path: "Sources/CFFI",
            pkgConfig: "libffi",
            providers: [.apt(["libffi-dev"]), .brew(["libffi"])]
        ),
        // Calls C functions of a declared signature (int64, double, bool, string) through libffi.
        .target(
            name: "StarlingFFI",
            dependencies: ["CFFI"]
        ),
        // The dlopen loader and the bridge between the C plugin ABI and the kernel's hook chain.
        .target(
            name: "StarlingPlugins",
            dependencies: [
                "CStarlingPlugin",
                "StarlingFFI",
                "StarlingPasswords",
                "StarlingKernel",
                "MQTTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath,
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]
        ),
        // The kernel's counters as swift-metrics, and their Prometheus text exposition.
        .target(
            name: "StarlingMetrics",
            dependencies: [
                "StarlingKernel",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The HTTP management API (/api/v1/...) over the kernel, with its API keys.
        .target(
            name: "StarlingAdmin",
            dependencies: [
                "StarlingKernel",
                "MQTTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Node-to-node links: cookie handshake, membership, the replicated route table, forwarding.
        .target(
            name: "StarlingCluster",
            dependencies: [
                "StarlingKernel",
                "MQTTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPath
        ),
        // Configuration (TOML file, environment, flags) and the node that runs listeners over the kernel.
        // The durable store: what must outlive the process, in SQLite (GRDB on the system's
        // libsqlite3), behind the kernel's `PersistentStore`.
        .target(
            name: "StarlingStore",
            dependencies: [
                "StarlingKernel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "StarlingServer",
            dependencies: [
                "StarlingKernel",
                "StarlingStore",
                "StarlingPlugins",
                "StarlingFFI",
                "StarlingAdmin",
                "StarlingMetrics",
                "StarlingCluster",
                "MQTTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // An MQTT client on the same codec: tests, bridges, tools.
        .target(
            name: "MQTTClient",
            dependencies: [
                "MQTTCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "starling",
            dependencies: [
                "StarlingServer",
                "StarlingAdmin",
                "StarlingPasswords",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What every Swift test suite shares: bounded waits and timeouts, a recorder of async streams,
        // loggers, a node started on a free port and clients connected to it, test data, files and processes.
        .target(
            name: "StarlingTestSupport",
            dependencies: ["StarlingServer", "StarlingKernel", "MQTTClient", "MQTTCore",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "MQTTCoreTests",
            dependencies: ["StarlingTestSupport", "MQTTCore", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOTestUtils", package: "swift-nio")]
        ),
        .testTarget(
            name: "StarlingKernelTests",
            dependencies: ["StarlingTestSupport", "StarlingKernel", "MQTTCore",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(
            name: "StarlingServerTests",
            dependencies: ["StarlingTestSupport", "StarlingServer", "StarlingKernel", "StarlingPlugins", "StarlingCluster", "StarlingAdmin",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "MetricsTests",
            dependencies: ["StarlingTestSupport", "StarlingMetrics", "StarlingServer", "StarlingKernel", "MQTTClient", "MQTTCore",
                           .product(name: "Metrics", package: "swift-metrics")]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["StarlingTestSupport", "MQTTClient", "MQTTCore", "StarlingServer", "StarlingKernel", "StarlingAdmin",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["StarlingTestSupport", "StarlingCluster", "StarlingKernel", "MQTTCore", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PluginTests",
            dependencies: ["StarlingTestSupport", "MQTTClient", "MQTTCore", "StarlingServer", "StarlingKernel", "StarlingPlugins", "StarlingPasswords",
                           "StarlingFFI", "StarlingMetrics", "CStarlingPlugin",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "Logging", package: "swift-log")],
            exclude: ["Fixtures"]
        ),
    ]
)
