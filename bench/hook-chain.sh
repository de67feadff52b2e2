#!/usr/bin/env bash
# hook-chain.sh MQBENCH [RUNS] [MESSAGES]: the cost of the plugin hook chain on the publish path.
# Fan-in QoS 0 (mqbench fanin -q 0 -P 4 -s 16 -n MESSAGES, default 2000000) against three brokers, interleaved, each
# started fresh per run: no plugin; a do-nothing message_publish hook (bench/noop-hook); the
# acl-file plugin with 100 rules (99 that never match, then the one that lets mqbench through).
# Prints one RESULT line per run with the broker CPU per message (µs): the broker's user + system
# clock ticks from /proc/PID/stat across the mqbench run (finer than mqbench's whole-percent figure).
# With MOSQUITTO=1 (and Debian's mosquitto installed), Mosquitto runs in the same rounds for
# comparison: plain (label mosquitto) and with the same 100 rules as its acl_file (mosquitto-acl100).
set -euo pipefail
cd "$(dirname "$0")/.."
mqbench=${1:?usage: bench/hook-chain.sh /path/to/mqbench [RUNS]}
runs=${2:-5}
messages=${3:-2000000}
ticks_per_s=$(getconf CLK_TCK)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Built as plugins/Makefile builds the shipped plugins (-O2).
cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude -O2 -o "$work/noop-hook.so" bench/noop-hook/noop_hook.c
cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude -O2 -o "$work/acl-file.so" plugins/acl-file/acl_file.c
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
printf 'listener 18840 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n' \
  > "$work/mosquitto.conf"
{ cat "$work/mosquitto.conf"; echo "acl_file $work/acl"; } > "$work/mosquitto-acl.conf"
chmod a+rx "$work" && chmod a+r "$work/acl"  # Mosquitto started as root reads it as user mosquitto

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat, after the ") ").
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

binary=.build/release/starling
declare -A args=(
  [none]="--config $work/plain.toml"
  [noop]="--config $work/plain.toml --plugin $work/noop-hook.so"
  [acl100]="--config $work/acl.toml"
  [mosquitto]="-c $work/mosquitto.conf"
  [mosquitto-acl100]="-c $work/mosquitto-acl.conf"
)
labels="none noop acl100"
if [ "${MOSQUITTO:-0}" = 1 ]; then
  command -v mosquitto > /dev/null || { echo "hook-chain.sh: MOSQUITTO=1 needs Debian's mosquitto" >&2; exit 2; }
  labels="$labels mosquitto mosquitto-acl100"
fi
for run in $(seq 1 "$runs"); do
  for label in $labels; do
    # shellcheck disable=SC2086
    case $label in
      mosquitto*) mosquitto ${args[$label]} > "$work/$label.log" 2>&1 & ;;
      *) $binary start --port 18840 --api-port 0 --log-level warning ${args[$label]} > "$work/$label.log" 2>&1 & ;;
    esac
    pid=$!
    for _ in $(seq 1 50); do ss -Hltn "sport = :18840" | grep -q . && break; sleep 0.1; done
    before=$(cpu_ticks "$pid")
    line=$("$mqbench" fanin -q 0 -P 4 -s 16 -n "$messages" -p 18840 -b "$pid" 2>/dev/null | tail -1)
    after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    us=$(awk -v t="$((after - before))" -v hz="$ticks_per_s" -v n="$messages" 'BEGIN { printf "%.3f", t / hz / n * 1e6 }')
    echo "RESULT label=$label run=$run us_per_msg=$us $line"
  done
done
