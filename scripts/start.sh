#!/usr/bin/env bash
# Builds Starling (release) and starts one broker on 127.0.0.1:1883 with embedded defaults.
# Extra arguments go to `starling start` (e.g. --port 1884, --config starling.toml, --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1; then
    echo "start.sh: the Swift toolchain (swift) is not on PATH; install Swift 6 first" >&2
    exit 1
fi
# libffi-dev: the broker calls plugins' exported functions through libffi (the CFFI target).
# libsqlite3-dev: the durable store is SQLite, through GRDB on the system's library.
# shellcheck source=scripts/debian-packages.sh
. scripts/debian-packages.sh
ensure_debian_packages libffi-dev libsqlite3-dev
swift build -c release --product starling
exec .build/release/starling start "$@"
