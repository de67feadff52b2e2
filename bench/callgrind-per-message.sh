#!/usr/bin/env bash
# callgrind-per-message.sh STARLING_BINARY MQBENCH_BINARY [N]
#
# Instructions executed inside the broker per message, counted by valgrind's callgrind (Ir), for two
# QoS 0 workloads of ../shared/bench's mqbench. Counts, not times: they hardly depend on how busy the
# machine is, so a before/after pair of builds can be compared run against run (same N, same script).
#
#   fanin_q0   mqbench fanin  -q 0 -P 4  -s 16   N messages in total, 4 publishers -> 1 subscriber
#   fanout_q0  mqbench fanout -q 0 -S 50 -s 16   N/50 messages published, each delivered to all 50
#              subscribers: messages= and per_message count DELIVERED messages (published x 50 = N)
#
# N defaults to 1000000 (fan-in 1000000 messages, fan-out 20000 x 50 deliveries): about 75 s and
# 30 s under callgrind on a 2-core machine, ~105 s for both. N must be a multiple of 100. Compare
# figures of the same N only: the fan-out cost per delivery falls with N (same build: 4.4k at
# 100000, 4.1k at 400000, 4.0k at 1000000; fan-in stays at 12.1k), as longer runs batch more.
#
# Method, per workload (a fresh broker each time):
#   1. the broker starts under `valgrind --tool=callgrind --instr-atstart=no` (start-up not counted)
#      with 2 event loops (STARLING_NODE__EVENT_LOOPS; EVENT_LOOPS=K changes it),
#      session.max_queued_messages = 1000000 (as in bench/starling-bench.toml, so nothing is dropped),
#      --port 0 on 127.0.0.1; the real port is read from its `listening on 127.0.0.1:PORT` log line;
#   2. a warm-up run (the idle workload below, not counted): first-time costs (allocator pools, lazy
#      initialisation) are gone before counting starts;
#   3. `callgrind_control -i on`, then the IDLE run: the same clients connect, subscribe, publish a few
#      messages (fan-in 1000, fan-out 20 x 50) and disconnect; `callgrind_control -d` dumps its count
#      (and zeroes the counters);
#   4. the FULL run: the same clients, N more messages than the idle run; dumped the same way;
#   5. SIGINT (<= 30 s, then SIGKILL); the shutdown is not counted.
#   instructions = Ir(full) - Ir(idle), per_message = instructions / N.
# Why an idle run is subtracted instead of zeroing the counters once the clients are connected: mqbench
# connects and starts publishing in one go, so an external `callgrind_control -z` cannot land between
# the two without a race. The subtraction cancels what does not scale with the message count
# (connect, subscribe, disconnect, logging, timers), so the figure is the marginal cost of a message.
#
# Repeatability (release build, 2026-12-07, 2-core VM busy with other builds), per_message min..max
# as % of the median: at N = 1000000 fan-in 0.4-0.7 % in sets of 3 runs (1.1 % over 8 runs), fan-out
# 0.2-0.4 % (0.4 % over 6); at N = 400000 0.9 % and 0.6 %; at N = 100000 1-2 %. So a change of
# about 1 % or less in fan-in is noise. Two things made the spread that small:
#   - mqbench names topics and client ids after a random run id, and Swift seeds its hashing at random
#     per process, so dictionaries keyed by those names (route cache, sessions) laid out differently in
#     every run and the probes/string comparisons per message changed with them (3.5 % spread at
#     N = 100000). The broker now runs with SWIFT_DETERMINISTIC_HASHING=1 and mqbench with a fixed run
#     id per phase (a preloaded getpid()/rand(), mqbench only): every run sends the same names.
#     FIXED_RUN_IDS=0 turns both off.
#   - a larger N: what remains is timing (how many messages a read or a flush carries, whether a
#     subscriber's channel was writable or the message was queued, malloc's free lists).
#   Tried and not kept: 1 event loop (1.7 % at N = 100000, bimodal) and valgrind --fair-sched=yes
#   (1.7 %), against 0.9 % for 2 loops and the default scheduler.
#
# Two workarounds for valgrind 3.19 (Debian 12), both outside the measured code:
#   - it gives up on the DWARF 5 debug info of Swift 6 binaries ("unhandled dwarf2 abbrev form code
#     0x25 ... Possibly corrupted debuginfo file"): the broker runs as a copy made with
#     `objcopy --strip-debug` (same machine code; the symbol table stays, so callgrind_annotate still
#     names functions);
#   - its rt_sigsuspend wrapper writes into the mask it is given, and libdispatch's dispatchMain() (the
#     broker's main thread) passes a `static const` sigset_t in read-only memory: "VALGRIND INTERNAL
#     ERROR: ... SIGSEGV" right after start-up. A preloaded sigsuspend passes a writable copy (called
#     once, on the otherwise idle main thread).
#
# Output, one line per workload on stdout (progress and mqbench's RESULT lines on stderr):
#   CALLGRIND workload=fanin_q0 messages=N instructions=... per_message=... full_ir=... idle_ir=...
#     published=... subscribers=... event_loops=2 lost=0 status=ok
# Exit status 1 if a run lost messages or mqbench failed (the line is still printed, status=failed), 2 on usage
# errors. Needs valgrind, callgrind_control, objcopy, cc, timeout. Every wait is bounded; the temp
# dir is removed at the end (KEEP=1 keeps it: callgrind.out.1 = idle, .2 = full, for callgrind_annotate).
# Environment: EVENT_LOOPS (2), WORKLOADS ("fanin_q0 fanout_q0"), FIXED_RUN_IDS (1), KEEP (0).
#   bench/callgrind-per-message.sh .build/release/starling /tmp/mqb/mqbench
#   bench/callgrind-per-message.sh /work/before/.build/release/starling /tmp/mqb/mqbench 400000   # ~45 s
set -euo pipefail

usage="usage: $0 STARLING_BINARY MQBENCH_BINARY [N]"
[ $# -ge 2 ] && [ $# -le 3 ] || { echo "$usage" >&2; exit 2; }
starling=$1
mqbench=$2
N=${3:-1000000}
loops=${EVENT_LOOPS:-2}
workloads=${WORKLOADS:-fanin_q0 fanout_q0}
case $N in ''|*[!0-9]*) echo "N must be a number, not '$N'; $usage" >&2; exit 2 ;; esac
[ $((N % 100)) -eq 0 ] && [ "$N" -gt 0 ] || { echo "N must be a positive multiple of 100, not $N" >&2; exit 2; }
[ -x "$starling" ] || { echo "no executable broker at $starling" >&2; exit 2; }
[ -x "$mqbench" ] || { echo "no executable mqbench at $mqbench (build it with ../shared/bench/build.sh)" >&2; exit 2; }
for tool in valgrind callgrind_control timeout objcopy cc; do
  command -v "$tool" > /dev/null || { echo "needs $tool" >&2; exit 2; }
done
starling=$(cd "$(dirname "$starling")" && pwd)/$(basename "$starling")
mqbench=$(cd "$(dirname "$mqbench")" && pwd)/$(basename "$mqbench")

work=$(mktemp -d /tmp/callgrind-per-message.XXXXXX)
pid=""      # the broker (valgrind)
mqpid=""    # the running mqbench (its timeout wrapper)
stop_broker() {
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2> /dev/null; then
    kill -INT "$pid" 2> /dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done   # <= 30 s
    if kill -0 "$pid" 2> /dev/null; then
      echo "broker (pid $pid) still running 30 s after SIGINT; SIGKILL" >&2
      kill -9 "$pid" 2> /dev/null || true
    fi
  fi
  wait "$pid" 2> /dev/null || true
  pid=""
}
cleanup() {
  if [ -n "$mqpid" ]; then kill "$mqpid" 2> /dev/null || true; wait "$mqpid" 2> /dev/null || true; fi
  stop_broker
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# valgrind 3.19 and Swift's DWARF 5: a copy without debug sections (see the header)
objcopy --strip-debug "$starling" "$work/starling"
# valgrind 3.19 writes into sigsuspend's mask, libdispatch's is read-only: a writable copy (see the header)
cat > "$work/sigsuspend-shim.c" << 'SHIM'
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, 8); }
SHIM
cc -O2 -shared -fPIC -o "$work/sigsuspend-shim.so" "$work/sigsuspend-shim.c"
# mqbench's run id ("PID-RAND", in every topic and client id) fixed per phase: MQB_FIXED_PID (see the header)
cat > "$work/fixed-run-id.c" << 'FIXID'
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
pid_t getpid(void) { const char *v = getenv("MQB_FIXED_PID"); return v ? (pid_t)atoi(v) : (pid_t)syscall(SYS_getpid); }
int rand(void) { return 0x5eed; }
FIXID
cc -O2 -shared -fPIC -o "$work/fixed-run-id.so" "$work/fixed-run-id.c"

# ctl ARGS...: callgrind_control for our broker, bounded (it talks to valgrind's gdbserver via vgdb).
ctl() { timeout 60 callgrind_control --vgdb-prefix="$work/vgdb" "$@" "$pid" > "$work/ctl.log" 2>&1 ||
  { echo "callgrind_control $* failed:" >&2; cat "$work/ctl.log" >&2; exit 1; }; }

# ir FILE: the total Ir of one callgrind out file (its `totals:` line, else `summary:`).
ir() { awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 } END { if (t != "") print t; else if (s != "") print s; else exit 1 }' "$1"; }

# bench ARGS...: one mqbench run, bounded; shows its RESULT line; fails if mqbench does (error, lost > 0).
bench() {
  local rc=0 shown="mqbench $*"
  if [ "${FIXED_RUN_IDS:-1}" = 1 ]; then
    phase_id=$((phase_id + 1))
    set -- env LD_PRELOAD="$work/fixed-run-id.so" MQB_FIXED_PID=$((1000 + phase_id)) "$mqbench" "$@"
  else
    set -- "$mqbench" "$@"
  fi
  # in the background and waited for, so that an INT/TERM trap runs at once (and stops it).
  # -k 600: under valgrind the subscriber's PINGRESP can wait behind a backlog of QoS 0 messages for
  # longer than mqbench's default 60 s keep-alive, and libmosquitto would then drop the connection.
  timeout 900 "$@" -h 127.0.0.1 -p "$port" -t 600 -D 60 -k 600 > "$work/mqbench.out" 2> "$work/mqbench.err" &
  mqpid=$!
  wait "$mqpid" || rc=$?
  mqpid=""
  result=$(grep '^RESULT' "$work/mqbench.out" | tail -1 || true)
  echo "  $shown: ${result:-no RESULT line (exit $rc)}" >&2
  [ $rc -eq 0 ] || { cat "$work/mqbench.err" >&2; return 1; }
}

failed=0
for workload in $workloads; do
  case $workload in
    fanin_q0) args=(fanin -q 0 -P 4 -s 16); idle=1000; full=$((N + idle)); deliveries=1 ;;
    fanout_q0) args=(fanout -q 0 -S 50 -s 16); idle=20; full=$((N / 50 + idle)); deliveries=50 ;;
    *) echo "unknown workload $workload (fanin_q0, fanout_q0)" >&2; exit 2 ;;
  esac
  run=$work/$workload
  mkdir -p "$run"
  phase_id=0
  (cd "$run" && if [ "${FIXED_RUN_IDS:-1}" = 1 ]; then export SWIFT_DETERMINISTIC_HASHING=1; fi &&
    STARLING_NODE__EVENT_LOOPS=$loops STARLING_SESSION__MAX_QUEUED_MESSAGES=1000000 \
    LD_PRELOAD=$work/sigsuspend-shim.so exec valgrind --tool=callgrind --instr-atstart=no --vgdb=yes --vgdb-prefix="$work/vgdb" \
      --callgrind-out-file="$run/callgrind.out" \
      "$work/starling" start --bind 127.0.0.1 --port 0 --api-port 0 --log-level info) > "$run/broker.log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 1200); do   # <= 120 s: start-up under valgrind is slow
    port=$(grep -v -E '(api|cluster) listening on' "$run/broker.log" |
      sed -n -E 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' | head -1 || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "$workload: the broker did not log 'listening on' within 120 s:" >&2
    tail -20 "$run/broker.log" >&2
    exit 1
  fi
  echo "$workload: broker pid $pid on 127.0.0.1:$port, $loops event loops" >&2
  ok=1
  bench "${args[@]}" -n "$idle" || ok=0                              # warm-up, not counted
  ctl -i on
  bench "${args[@]}" -n "$idle" || ok=0; idle_lost=$(sed -n -E 's/.* lost=([0-9]+).*/\1/p' <<< "$result")
  ctl -d "$workload-idle"
  bench "${args[@]}" -n "$full" || ok=0; full_lost=$(sed -n -E 's/.* lost=([0-9]+).*/\1/p' <<< "$result")
  ctl -d "$workload-full"
  ctl -i off
  stop_broker
  dumps=()
  for f in "$run"/callgrind.out.*; do
    case $f in *.out.[0-9]|*.out.[0-9][0-9]) dumps+=("$f") ;; esac
  done
  if [ ${#dumps[@]} -lt 2 ]; then
    echo "$workload: expected two callgrind dumps in $run, found: $(ls "$run")" >&2
    exit 1
  fi
  idle_ir=$(ir "$run/callgrind.out.1")
  full_ir=$(ir "$run/callgrind.out.2")
  grep -q "$workload-idle" "$run/callgrind.out.1" && grep -q "$workload-full" "$run/callgrind.out.2" ||
    { echo "$workload: the dumps are not in the expected order" >&2; exit 1; }
  instructions=$((full_ir - idle_ir))
  lost=$(( ${full_lost:-0} + ${idle_lost:-0} ))
  status=ok
  [ "$ok" = 1 ] && [ "$lost" = 0 ] || { failed=1; status=failed; }
  awk -v w="$workload" -v n="$N" -v i="$instructions" -v f="$full_ir" -v d="$idle_ir" -v l="$lost" \
    -v pub=$((full - idle)) -v del="$deliveries" -v loops="$loops" -v st="$status" 'BEGIN {
    printf "CALLGRIND workload=%s messages=%d instructions=%.0f per_message=%.1f full_ir=%.0f idle_ir=%.0f published=%d subscribers=%d event_loops=%d lost=%d status=%s\n",
      w, n, i, i / n, f, d, pub, del, loops, l, st }'
done
exit $failed
