#!/usr/bin/env bash
# check-package-dependency.sh [COMMIT]
#
# Shows that another package can depend on Starling's MQTTClient library by version, the way SwiftPM
# treats every tagged dependency (it refuses targets with unsafe flags there, but not in a root
# package or one pinned by branch or revision, so a local build proves nothing). Clones this
# repository at COMMIT (default HEAD) into a scratch directory, tags it 0.1.0, and builds a small
# package that depends on it `from: "0.1.0"` and calls MQTTClient. Exit status 0 when it builds and
# runs; SwiftPM's error otherwise. Takes a few minutes (it compiles SwiftNIO).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
work=$(mktemp -d /tmp/check-package-dependency.XXXXXX)
trap 'rm -rf "$work"' EXIT

git clone -q "$repo" "$work/starling"
git -C "$work/starling" tag 0.1.0 "$commit"

mkdir -p "$work/consumer/Sources/consumer"
cat > "$work/consumer/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/starling", from: "0.1.0")],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "MQTTClient", package: "starling")]),
    ]
)
SWIFT
cat > "$work/consumer/Sources/consumer/main.swift" <<'SWIFT'
import MQTTClient

let configuration = MQTTClientConfiguration(port: 1883, clientId: "consumer")
print("a package depending on MQTTClient \(configuration.clientId == "consumer" ? "builds and runs" : "is broken")")
SWIFT

cd "$work/consumer"
swift build
.build/debug/consumer
