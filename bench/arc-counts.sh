#!/usr/bin/env bash
# arc-counts.sh MQBENCH [MESSAGES] [-- STARLING START ARGS...]: counts the reference-counting and
# allocation calls of a release broker per message of one fan-in QoS 0 run (mqbench fanin -q 0 -P 4
# -s 16), with uprobes on libswiftCore's swift_retain, swift_release, swift_bridgeObjectRetain,
# swift_bridgeObjectRelease and swift_allocObject and on libc's malloc (Debian's linux-perf, as root).
# Exact counts, unlike the CPU figures of a shared machine: each retain or release is a locked
# instruction, and they were most of what a do-nothing hook cost (docs/benchmarks.md, 2026-12-07).
# Uprobes make the broker far slower while they count: use it for counts, never for times.
#   bench/arc-counts.sh /path/to/mqbench 100000 -- --plugin /tmp/noop-hook.so
#   bench/arc-counts.sh /path/to/mqbench 100000 -- --config acl.toml     # a [[plugins]] entry with options
# STARLING_BIN=PATH counts another build (default .build/release/starling).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: bench/arc-counts.sh /path/to/mqbench [MESSAGES] [-- STARLING START ARGS...]"
mqbench=${1:?$usage}
shift
messages=100000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then messages=$1; shift; fi
[ "${1:-}" = "--" ] && shift
binary=${STARLING_BIN:-.build/release/starling}
case $messages in ''|*[!0-9]*) echo "arc-counts.sh: MESSAGES must be a number, not '$messages'; $usage" >&2; exit 2 ;; esac
[ -x "$mqbench" ] || { echo "arc-counts.sh: no mqbench at $mqbench (build it with ../shared/bench/build.sh)" >&2; exit 2; }
[ -x "$binary" ] || { echo "arc-counts.sh: no broker at $binary (swift build -c release)" >&2; exit 2; }
command -v perf > /dev/null || { echo "arc-counts.sh: needs perf (Debian: linux-perf), as root" >&2; exit 2; }
work=$(mktemp -d)
pid=""
counter=""
cleanup() {
  [ -n "$counter" ] && kill -INT "$counter" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

swift_core=$(ldd "$binary" | awk '/libswiftCore/ { print $3 }')
libc=$(ldd "$binary" | awk '/libc\.so/ { print $3 }')
events=()
for function in swift_retain swift_release swift_bridgeObjectRetain swift_bridgeObjectRelease swift_allocObject; do
  perf probe -q -x "$swift_core" "$function" 2>/dev/null || true  # kept from an earlier run
  events+=("probe_libswiftCore:$function")
done
perf probe -q -x "$libc" malloc 2>/dev/null || true
events+=("probe_libc:malloc")

STARLING_SESSION__MAX_QUEUED_MESSAGES=1000000 \
  "$binary" start --port 18841 --api-port 0 --log-level warning "$@" > "$work/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do ss -Hltn "sport = :18841" | grep -q . && break; sleep 0.1; done
"$mqbench" fanin -q 0 -P 4 -s 16 -n 20000 -p 18841 > /dev/null 2>&1  # warm-up: connections, caches
perf stat -x, -e "$(IFS=,; echo "${events[*]}")" -p "$pid" -o "$work/counts" &
counter=$!
sleep 0.5
result=$("$mqbench" fanin -q 0 -P 4 -s 16 -n "$messages" -p 18841 2>/dev/null | tail -1)
kill -INT "$counter"; wait "$counter" || true
counter=""
echo "$result" | grep -o 'recv=[0-9]* lost=[0-9]*'
awk -F, -v n="$messages" '/probe/ { split($3, name, ":"); printf "%s %.2f per message\n", name[2], $1 / n }' "$work/counts"
