#!/usr/bin/env bash
# bench/tls-vs-mosquitto.sh STARLING_BINARY [RUNS] [OUTDIR]
#
# Starling against Debian's Mosquitto over TLS, interleaved, with the same throwaway certificates
# (../shared/bench/mktls.sh, P-256 keys) and the same mqbench (-A CAFILE; -E/-K for mutual TLS).
# Each test of each run starts its broker fresh, so the RSS figures of conn mode start from a new
# process:
#   conn_tls    mqbench conn -c 2000 -H 3 -A ca.crt               (TLS, server certificate only)
#   conn_mtls   mqbench conn -c 2000 -H 3 -A ca.crt -E client -K  (mutual TLS)
#   fanin_tls   mqbench fanin -q 0 -P 4 -s 16 -n 300000 -A ca.crt (QoS 0 over TLS)
# and prints one line per test and broker: the broker's CPU per connection (cpu_broker_pct x
# connect_s / connected), its memory per idle connection (per_conn_bytes), and fan-in msg/s, as
# medians over the runs. Raw RESULT lines go to OUTDIR/results.txt.
# Needs: mqbench built in BENCH (default /tmp/benchtools: cp -r ../shared/bench there, ./build.sh),
# mosquitto, openssl.
set -u
STARLING=${1:?usage: $0 STARLING_BINARY [RUNS] [OUTDIR]}
RUNS=${2:-3}
OUT=${3:-/tmp/tls-bench-$(date +%Y%m%d-%H%M%S)}
BENCH=${BENCH:-/tmp/benchtools}
MQB=$BENCH/mqbench
CERTS=$OUT/certs
mkdir -p "$OUT"
[ -x "$MQB" ] || { echo "no mqbench at $MQB (cp -r ../shared/bench $BENCH && $BENCH/build.sh)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
PLAIN=18880 TLS=18881 MTLS=18882 "$BENCH/mktls.sh" "$CERTS" >/dev/null || exit 2

# Starling: the same three listeners and the same queue limit as mktls.sh's Mosquitto config.
cat > "$OUT/starling-tls.toml" <<EOF
[listeners.tcp.default]
bind = "127.0.0.1"
port = 18890
[listeners.ssl.default]
bind = "127.0.0.1"
port = 18891
[listeners.ssl.default.ssl_options]
certfile = "$CERTS/server.crt"
keyfile = "$CERTS/server.key"
[listeners.ssl.mutual]
bind = "127.0.0.1"
port = 18892
[listeners.ssl.mutual.ssl_options]
certfile = "$CERTS/server.crt"
keyfile = "$CERTS/server.key"
cacertfile = "$CERTS/ca.crt"
verify = "verify_peer"
fail_if_no_peer_cert = true
[session]
max_queued_messages = 1000000
[api]
enabled = false
[log]
level = "warning"
EOF

STOP_WAIT=10
. "$(dirname "$0")/broker-process.sh"

# start_broker LABEL: starts it fresh; sets BPID, TLS_PORT and MTLS_PORT.
start_broker() {
	case $1 in
		mosquitto) (cd /tmp && exec mosquitto -c "$CERTS/mosquitto-tls.conf") > "$OUT/$1-broker.log" 2>&1 &
			TLS_PORT=18881 MTLS_PORT=18882 ;;
		starling) (cd /tmp && exec "$STARLING" start --config "$OUT/starling-tls.toml") > "$OUT/$1-broker.log" 2>&1 &
			TLS_PORT=18891 MTLS_PORT=18892 ;;
	esac
	BPID=$!
	for _ in $(seq 1 100); do listening "$MTLS_PORT" && break; sleep 0.1; done
	listening "$MTLS_PORT" || { echo "$1 did not start (see $OUT/$1-broker.log)" >&2; exit 1; }
	sleep 0.5
}

: > "$OUT/results.txt"
for r in $(seq 1 "$RUNS"); do
	for test in conn_tls conn_mtls fanin_tls; do
		for broker in mosquitto starling; do
			start_broker "$broker"
			case $test in
				conn_tls) args=(conn -c 2000 -H 3 -A "$CERTS/ca.crt" -p "$TLS_PORT") ;;
				conn_mtls) args=(conn -c 2000 -H 3 -A "$CERTS/ca.crt" -E "$CERTS/client.crt" -K "$CERTS/client.key" -p "$MTLS_PORT") ;;
				fanin_tls) args=(fanin -q 0 -P 4 -s 16 -n 300000 -A "$CERTS/ca.crt" -p "$TLS_PORT") ;;
			esac
			record_run "$broker" "$test" "$r" "${args[@]}"
		done
	done
done

PYTHONPATH="$(dirname "$0")" python3 - "$OUT/results.txt" <<'EOF' | tee "$OUT/summary.md"
import sys
from bench_results import med, rows_by_test
rows = rows_by_test(sys.argv[1])
def show(m, fmt):
    return "-" if m is None else f"{fmt.format(m[0])} ({fmt.format(m[1])}..{fmt.format(m[2])})"
print("| test | broker | broker CPU per connection, ms | RSS per idle connection, bytes | connect rate, conn/s | msg/s | lost | status |")
print("|---|---|---|---|---|---|---|---|")
for (test, label), runs in sorted(rows.items()):
    cpu, rss, rate, msgs, lost = [], [], [], [], 0
    for f in runs:
        if test.startswith("conn") and int(f.get("connected", 0)) > 0:
            cpu.append(float(f["cpu_broker_pct"]) / 100 * float(f["connect_s"]) / int(f["connected"]) * 1000)
            rss.append(float(f["per_conn_bytes"]))
            rate.append(float(f["rate"]))
        if test.startswith("fanin"):
            msgs.append(float(f["rate"]))
            lost += int(f.get("lost", 0))
    statuses = ",".join(sorted({f.get("status", "?") for f in runs}))
    print(f"| {test} | {label} | {show(med(cpu), '{:.3f}')} | {show(med(rss), '{:.0f}')} | {show(med(rate), '{:.0f}')} "
          f"| {show(med(msgs), '{:.0f}')} | {lost if test.startswith('fanin') else '-'} | {statuses} |")
EOF
echo "raw results and logs: $OUT" >&2
