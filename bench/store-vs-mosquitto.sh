#!/usr/bin/env bash
# bench/store-vs-mosquitto.sh STARLING_BINARY [RUNS] [OUTDIR]
#
# The durable store against Debian's Mosquitto 2.0.11 with `persistence true`, interleaved, each
# test of each run on a fresh broker with an empty data directory. Starling runs three ways:
# storage.backend = "memory", durability "batch" and durability "sync" (flush_interval 10 ms).
# Both brokers get max_queued_messages 1,000,000 (the queues measured fit).
#   fanin_q1    mqbench fanin -q 1 -l -P 4 -s 16 -n 100000    (QoS 1 to an online persistent subscriber)
#   offline_q1  mqbench fanin -q 1 -l -F -P 4 -s 16 -n 100000 (the subscriber away: publish rate,
#               then it comes back and drains: drain rate)
# Prints medians (min..max) per test and broker; raw RESULT lines go to OUTDIR/results.txt. For
# sync, OUTDIR/*-sync-*.commits holds the broker's commit count (fsyncs) read from its log.
# Needs: mqbench built in BENCH (default /tmp/benchtools: cp -r ../shared/bench there, ./build.sh),
# mosquitto.
set -u
STARLING=${1:?usage: $0 STARLING_BINARY [RUNS] [OUTDIR]}
RUNS=${2:-3}
OUT=${3:-/tmp/store-bench-$(date +%Y%m%d-%H%M%S)}
BENCH=${BENCH:-/tmp/benchtools}
MQB=$BENCH/mqbench
N=${N:-100000}
mkdir -p "$OUT"
[ -x "$MQB" ] || { echo "no mqbench at $MQB (cp -r ../shared/bench $BENCH && $BENCH/build.sh)" >&2; exit 2; }

. "$(dirname "$0")/broker-process.sh"

# start_broker LABEL: fresh, with an empty data directory; sets BPID and PORT.
start_broker() {
	local data=$OUT/data-$1
	rm -rf "$data"
	mkdir -p "$data"
	case $1 in
		mosquitto)
			PORT=18930
			cat > "$OUT/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $data/
max_queued_messages 1000000
EOF
			# Started as root, Mosquitto runs as its own user: its directory must be writable by it.
			chown mosquitto: "$data" 2>/dev/null
			(cd "$data" && exec mosquitto -c "$OUT/mosquitto.conf") > "$OUT/$1-broker.log" 2>&1 & ;;
		starling-*)
			PORT=18931
			local backend=sqlite durability=${1#starling-}
			[ "$durability" = memory ] && backend=memory durability=batch
			cat > "$OUT/$1.toml" <<EOF
[node]
data_dir = "$data"
[listeners.tcp.default]
bind = "127.0.0.1"
port = $PORT
[session]
max_queued_messages = 1000000
[storage]
backend = "$backend"
durability = "$durability"
flush_interval = "10ms"
[api]
enabled = false
[log]
level = "info"
EOF
			(cd "$data" && exec "$STARLING" start --config "$OUT/$1.toml") > "$OUT/$1-broker.log" 2>&1 & ;;
	esac
	BPID=$!
	for _ in $(seq 1 100); do listening "$PORT" && break; sleep 0.1; done
	listening "$PORT" || { echo "$1 did not start (see $OUT/$1-broker.log)" >&2; exit 1; }
	sleep 0.5
}

BROKERS=${BROKERS:-"mosquitto starling-memory starling-batch starling-sync"}
: > "$OUT/results.txt"
for r in $(seq 1 "$RUNS"); do
	for test in fanin_q1 offline_q1; do
		for broker in $BROKERS; do
			start_broker "$broker"
			case $test in
				fanin_q1) args=(fanin -q 1 -l -P 4 -s 16 -n "$N") ;;
				offline_q1) args=(fanin -q 1 -l -F -P 4 -s 16 -n "$N" -D 10 -t 120) ;;
			esac
			record_run "$broker" "$test" "$r" "${args[@]}" -p "$PORT" -x "st$r$test"
		done
	done
done

PYTHONPATH="$(dirname "$0")" python3 - "$OUT/results.txt" <<'EOF' | tee "$OUT/summary.md"
import sys
from bench_results import med, rows_by_test
rows = rows_by_test(sys.argv[1])
def show(m):
    return "-" if m is None else f"{m[0]:.0f} ({m[1]:.0f}..{m[2]:.0f})"
print("| test | broker | msg/s (fan-in) or publish msg/s (offline) | drain msg/s | broker CPU % | lost | status |")
print("|---|---|---|---|---|---|---|")
for (test, label), runs in sorted(rows.items()):
    rate = [f.get("pub_rate" if test.startswith("offline") else "rate") for f in runs]
    drain = [f.get("drain_rate") for f in runs] if test.startswith("offline") else []
    lost = sum(int(f.get("lost", 0)) for f in runs)
    statuses = ",".join(sorted({f.get("status", "?") for f in runs}))
    print(f"| {test} | {label} | {show(med(rate))} | {show(med(drain))} | {show(med(f.get('cpu_broker_pct') for f in runs))} "
          f"| {lost} | {statuses} |")
EOF
echo "raw results and logs: $OUT" >&2
