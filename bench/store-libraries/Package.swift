// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "storespike",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", exact: "1.13.2"),
    ],
    targets: [
        .target(name: "Common", swiftSettings: v5),
        .executableTarget(name: "bench-grdb", dependencies: [
            "Common",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: v5),
        .executableTarget(name: "bench-nio", dependencies: [
            "Common",
            .product(name: "SQLiteNIO", package: "sqlite-nio"),
        ], swiftSettings: v5),
    ]
)

var v5: [SwiftSetting] { [.swiftLanguageMode(.v5)] }
