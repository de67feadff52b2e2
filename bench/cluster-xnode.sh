#!/bin/sh
# Cross-node against same-node, in one interleaved run: two Starling nodes joined into a cluster,
# publishers on n1, the subscriber on n1 (same) or n2 (cross), with mqbench's -o/-O.
#   bench/cluster-xnode.sh STARLING_BINARY MQBENCH [RUNS]
# Prints mqbench's RESULT lines, each prefixed with the placement; nodes are stopped at the end.
set -eu
BIN=$(realpath "$1"); MQBENCH=$(realpath "$2"); RUNS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/starling-xnode.XXXXXX)
PIDS=""
cleanup() { for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
for i in 1 2; do
  mkdir -p "$WORK/n$i"
  (cd "$WORK/n$i" && exec "$BIN" start --config "$HERE/starling-bench.toml" --name "b$i@127.0.0.1" \
     --cookie bench --cluster-port "4395$i" --port "1885$i" --api-port "1825$i" > log 2>&1) &
  PIDS="$PIDS $!"
done
sleep 2
"$BIN" ctl --api 127.0.0.1:18252 cluster join b1@127.0.0.1:43951 --timeout 10
for run in $(seq "$RUNS"); do
  for test in "fanin -q 0 -n 500000" "fanin -q 1 -n 200000" "latency -q 0 -r 5000 -d 5"; do
    # Alternate which placement goes first.
    if [ $((run % 2)) = 1 ]; then order="same cross"; else order="cross same"; fi
    for where in $order; do
      port=18851; [ "$where" = cross ] && port=18852
      line=$("$MQBENCH" $test -p 18851 -O "$port" 2>/dev/null | tail -1)
      echo "$where run=$run $line"
    done
  done
done
"$BIN" ctl --api 127.0.0.1:18252 metrics | grep -E "cluster|queue_full"
