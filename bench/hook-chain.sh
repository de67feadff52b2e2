#!/usr/bin/env bash
# hook-chain.sh MQBENCH [RUNS]: the cost of the plugin hook chain on the publish path.
# Fan-in QoS 0 (mqbench fanin -q 0 -P 4 -s 16 -n 500000) against three brokers, interleaved, each
# started fresh per run: no plugin; do-nothing message_publish and authorize_publish hooks (bench/noop-hook); the
# acl-file plugin with 100 rules (99 that never match, then the one that lets mqbench through).
# Prints one RESULT line per run plus the broker CPU per message (µs) computed from it.
set -euo pipefail
cd "$(dirname "$0")/.."
mqbench=${1:?usage: bench/hook-chain.sh /path/to/mqbench [RUNS]}
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude -o "$work/noop-hook.so" bench/noop-hook/noop_hook.c
cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude -o "$work/acl-file.so" plugins/acl-file/acl_file.c
for i in $(seq 1 99); do echo "topic readwrite other/$i/#"; done > "$work/acl"
echo "topic readwrite mqbench/#" >> "$work/acl"
cat > "$work/acl.toml" <<TOML
[session]
max_queued_messages = 1000000
[[plugins]]
path = "$work/acl-file.so"
options = { acl_file = "$work/acl" }
TOML
printf '[session]\nmax_queued_messages = 1000000\n' > "$work/plain.toml"

binary=.build/release/starling
declare -A args=(
  [none]="--config $work/plain.toml"
  [noop]="--config $work/plain.toml --plugin $work/noop-hook.so"
  [acl100]="--config $work/acl.toml"
)
for run in $(seq 1 "$runs"); do
  for label in none noop acl100; do
    # shellcheck disable=SC2086
    $binary start --port 18840 --api-port 0 --log-level warning ${args[$label]} > "$work/$label.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do ss -Hltn "sport = :18840" | grep -q . && break; sleep 0.1; done
    line=$("$mqbench" fanin -q 0 -P 4 -s 16 -n 500000 -p 18840 -b "$pid" 2>/dev/null | tail -1)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    cpu=$(grep -oE 'cpu_broker_pct=[0-9]+' <<<"$line" | cut -d= -f2)
    elapsed=$(grep -oE 'elapsed_s=[0-9.]+' <<<"$line" | cut -d= -f2)
    us=$(awk -v c="$cpu" -v e="$elapsed" 'BEGIN { printf "%.3f", c / 100 * e / 500000 * 1e6 }')
    echo "RESULT label=$label run=$run us_per_msg=$us $line"
  done
done
