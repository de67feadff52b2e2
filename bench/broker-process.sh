# Sourced by the bench scripts: one broker process at a time, in BPID.
#   listening PORT   true once something listens on 127.0.0.1:PORT
#   stop_broker      SIGTERM, up to STOP_WAIT seconds (default 30) for it to exit, then SIGKILL
# Stops the broker when the script exits.
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
BPID=""
stop_broker() {
	[ -n "$BPID" ] || return
	kill "$BPID" 2>/dev/null
	for _ in $(seq 1 $((${STOP_WAIT:-30} * 10))); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$BPID" 2>/dev/null
	wait "$BPID" 2>/dev/null
	BPID=""
}
trap stop_broker EXIT INT TERM

# record_run BROKER TEST RUN MQBENCH_ARGS...: runs $MQB against the running broker, appends its
# RESULT line, labelled, to $OUT/results.txt (its output and stderr stay in $OUT), stops the broker.
record_run() {
	local broker=$1 test=$2 run=$3 line
	shift 3
	line=$("$MQB" "$@" -h 127.0.0.1 -b "$BPID" 2> "$OUT/$broker-$test-run$run.err" | tee "$OUT/$broker-$test-run$run.log" | tail -n 1)
	echo "RESULT label=$broker test=$test run=$run ${line#RESULT }" | tee -a "$OUT/results.txt" >&2
	stop_broker
	sleep 1
}
