#!/usr/bin/env bash
# bench/tls-conn-rss.sh STARLING_BINARY CONFIG CA_FILE [VAR=VALUE ...]
#
# One quick reading of a Starling build's memory per idle TLS connection: starts the broker with
# CONFIG (an ssl listener on 18891, e.g. bench-results/2026-12-07-tls/starling-tls.toml with its
# CERTS filled in) and the environment VAR=VALUE ... (glibc's MALLOC_* settings, say), opens 2,000
# TLS connections with mqbench (BENCH, default /tmp/benchtools) and prints per_conn_bytes, connect_s
# and cpu_broker_pct. For comparisons inside one build; beside Mosquitto use tls-vs-mosquitto.sh.
set -u
STARLING=${1:?usage: $0 STARLING_BINARY CONFIG CA_FILE [VAR=VALUE ...]}
CONFIG=${2:?config}
CA=${3:?ca file}
shift 3
BENCH=${BENCH:-/tmp/benchtools}
(cd /tmp && exec env "$@" "$STARLING" start --config "$CONFIG") > /tmp/tls-conn-rss.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 1 50); do ss -Hltn "sport = :18891" | grep -q . && break; sleep 0.1; done
sleep 0.5
"$BENCH/mqbench" conn -c 2000 -H 2 -A "$CA" -p 18891 -h 127.0.0.1 -b "$PID" | tail -n 1 \
	| grep -o "per_conn_bytes=[0-9]*\|connect_s=[0-9.]*\|cpu_broker_pct=[0-9]*" | tr '\n' ' '
echo "($*)"
