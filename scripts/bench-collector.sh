#!/usr/bin/env bash
# Whole-collector throughput over OTLP/HTTP: the otelcol-aiops distribution with the llm_anomaly
# processor in the logs pipeline (testdata/bench/with.yaml) against the same pipeline without it
# (testdata/bench/without.yaml). Run it with `make bench-collector`, which builds
# ./bin/otelcol-aiops and ./bin/otlpload first; this script builds nothing.
#
# For each configuration: start the collector pinned to one core, wait (bounded) until its OTLP
# and metrics ports answer, send RECORDS records with otlpload pinned to another core, wait
# (bounded) until the exporter has sent them all (otelcol_exporter_sent_log_records), then read
# the collector's CPU time (utime+stime in /proc/PID/stat, after minus before the load) and peak
# RSS (VmHWM), and stop it with SIGTERM. Prints a markdown table and the CPU ratio with/without.
#
# records/s is the rate at which the collector accepted the load (otlpload's figure); drain s is
# the time from the end of the load until every record was exported (records the processor still
# held wait for its batch timeout); the CPU time covers both.
#
# With WITH_LLM=1 a third configuration runs: the processor with its LLM stage on, against a
# model that accepts connections and never answers (testdata/bench/with-llm-hanging.yaml, a
# listener on 127.0.0.1:18099 started by this script); its CPU and throughput are compared with
# the statistical-only run ("with").
#
# With BASELINE=<another build of the distribution> each run also runs the "with" configuration on
# that build, just before or after this build's (they take turns), and the two builds' CPU per
# record is compared: the ratio of the sums over runs and the median of the per-run ratios (the
# machine's load drifts, so compare many interleaved runs: RUNS=10 RECORDS=1000000 to start).
#
# Environment (defaults): RECORDS=2000000 BATCH=1000 CONCURRENCY=4 SEED=1 RUNS=3 WITH_LLM=0
# COLLECTOR_CPU=1 LOAD_CPU=0 COLLECTOR=./bin/otelcol-aiops OTLPLOAD=./bin/otlpload.
# The configurations listen on 127.0.0.1:4318 (OTLP/HTTP) and 127.0.0.1:8888 (metrics); both
# must be free.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COLLECTOR="${COLLECTOR:-$ROOT/bin/otelcol-aiops}"
BASELINE="${BASELINE:-}"
OTLPLOAD="${OTLPLOAD:-$ROOT/bin/otlpload}"
RECORDS="${RECORDS:-2000000}"
BATCH="${BATCH:-1000}"
CONCURRENCY="${CONCURRENCY:-4}"
SEED="${SEED:-1}"
RUNS="${RUNS:-3}"
COLLECTOR_CPU="${COLLECTOR_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-0}"
LOAD_MAX_DURATION="${LOAD_MAX_DURATION:-120s}" # otlpload stops by itself after this
READY_TIMEOUT_S=30                             # collector start
DRAIN_TIMEOUT_S=30                             # records still held by the processor after the load
STOP_TIMEOUT_S=20                              # graceful shutdown

HOST=127.0.0.1
OTLP_PORT=4318
METRICS_PORT=8888

die() {
	echo "bench-collector: $*" >&2
	exit 1
}

[[ -x "$COLLECTOR" ]] || die "$COLLECTOR not found: run 'make bench-collector' (it runs 'make build' first)"
[[ -z "$BASELINE" || -x "$BASELINE" ]] || die "BASELINE=$BASELINE is not an executable build"
[[ -x "$OTLPLOAD" ]] || die "$OTLPLOAD not found: run 'make bench-collector' (it builds it)"
[[ -r /proc/self/stat ]] || die "needs Linux /proc"
command -v curl >/dev/null || die "needs curl (to read the collector's metrics)"
for v in RECORDS BATCH CONCURRENCY RUNS; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done

CLK_TCK="$(getconf CLK_TCK)"
PIN_COLLECTOR=()
PIN_LOAD=()
if command -v taskset >/dev/null && [[ "$(nproc --all)" -ge 2 ]]; then
	PIN_COLLECTOR=(taskset -c "$COLLECTOR_CPU")
	PIN_LOAD=(taskset -c "$LOAD_CPU")
else
	echo "bench-collector: taskset or a second core is missing: processes are not pinned" >&2
fi

WORK="$(mktemp -d)"
pid=""      # the collector
load_pid="" # otlpload
cleanup() {
	local p
	for p in "$load_pid" "$pid"; do
		if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# cpu_ticks PID: utime+stime of the whole process (all threads), in clock ticks. The fields are
# counted after the command name, which may hold spaces.
cpu_ticks() { sed -e 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

scrape() { curl -fsS --max-time 2 "http://$HOST:$METRICS_PORT/metrics"; }

# exported: log records the debug exporter has sent so far (0 when not readable).
exported() {
	{ scrape 2>/dev/null || true; } |
		awk '/^otelcol_exporter_sent_log_records(_total)?[{ ]/ {s += $NF} END {printf "%d\n", s}'
}

# run_one NAME CONFIG RUN [BUILD]: one measured run of BUILD (default $COLLECTOR); appends a row
# to $WORK/rows.
run_one() {
	local name="$1" cfg="$2" run="$3" log="$WORK/$1-$3.log" out="$WORK/$1-$3.load"
	local build="${4:-$COLLECTOR}"
	port_open "$OTLP_PORT" && die "$HOST:$OTLP_PORT is already in use"
	port_open "$METRICS_PORT" && die "$HOST:$METRICS_PORT is already in use"

	"${PIN_COLLECTOR[@]}" "$build" --config "$cfg" >"$log" 2>&1 &
	pid=$!
	local i ready=0
	for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$log" >&2
			die "$name: the collector exited during start-up"
		fi
		if port_open "$OTLP_PORT" && port_open "$METRICS_PORT"; then
			ready=1
			break
		fi
		sleep 0.1
	done
	((ready)) || die "$name: the collector was not ready after ${READY_TIMEOUT_S}s"

	local cpu0 t0 t1 cpu1 hwm done_n=0
	cpu0="$(cpu_ticks "$pid")"
	# In the background so that a signal to this script is handled at once (wait is interruptible).
	"${PIN_LOAD[@]}" "$OTLPLOAD" -endpoint "http://$HOST:$OTLP_PORT" -records "$RECORDS" \
		-batch "$BATCH" -concurrency "$CONCURRENCY" -seed "$SEED" \
		-max-duration "$LOAD_MAX_DURATION" >"$out" 2>&1 &
	load_pid=$!
	local load_rc=0
	wait "$load_pid" || load_rc=$?
	load_pid=""
	if ((load_rc != 0)); then
		cat "$out" >&2
		tail -n 20 "$log" >&2
		die "$name: otlpload failed"
	fi
	grep -q '^stopped:' "$out" && die "$name: otlpload hit its time limit ($LOAD_MAX_DURATION)"
	t0="$(date +%s.%N)"
	for ((i = 0; i < DRAIN_TIMEOUT_S * 10; i++)); do
		done_n="$(exported)"
		((done_n >= RECORDS)) && break
		sleep 0.1
	done
	t1="$(date +%s.%N)"
	cpu1="$(cpu_ticks "$pid")"
	hwm="$(hwm_kb "$pid")"
	((done_n >= RECORDS)) ||
		echo "bench-collector: $name: only $done_n of $RECORDS records exported after ${DRAIN_TIMEOUT_S}s" >&2
	[[ "$name" == with ]] && scrape >"$WORK/with-metrics.txt" 2>/dev/null || true

	kill -TERM "$pid"
	for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench-collector: $name: no clean shutdown after ${STOP_TIMEOUT_S}s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	local rc=0
	wait "$pid" || rc=$?
	pid=""
	((rc == 0)) || echo "bench-collector: $name: the collector exited with status $rc" >&2

	local rate
	rate="$(awk '/^records\/s:/ {print $2}' "$out")"
	awk -v name="$name" -v run="$run" -v rate="$rate" -v t0="$t0" -v t1="$t1" -v c0="$cpu0" \
		-v c1="$cpu1" -v tck="$CLK_TCK" -v n="$RECORDS" -v hwm="$hwm" -v exp_n="$done_n" 'BEGIN {
		cpu = (c1 - c0) / tck
		printf "%s %s %s %.1f %.2f %.3f %.1f %d\n", name, run, rate, t1 - t0, cpu, cpu * 1e6 / n, hwm / 1024, exp_n
	}' >>"$WORK/rows"
}

echo "# otelcol-aiops whole-collector bench: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# $("$COLLECTOR" --version 2>/dev/null || echo "$COLLECTOR"); $(nproc --all) CPUs: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
[[ -n "$BASELINE" ]] && echo "# baseline: $("$BASELINE" --version 2>/dev/null || echo "$BASELINE") ($BASELINE)"
echo "# records=$RECORDS batch=$BATCH concurrency=$CONCURRENCY seed=$SEED runs=$RUNS collector-cpu=${PIN_COLLECTOR[*]:-unpinned} load-cpu=${PIN_LOAD[*]:-unpinned}"
hang_pid=""
if [[ "${WITH_LLM:-0}" == 1 ]]; then
	command -v python3 >/dev/null || die "WITH_LLM=1 needs python3 (the hanging model's listener)"
	# Accepts connections (the kernel completes them) and never reads or answers.
	python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18099)); s.listen(4096); time.sleep(1e9)' &
	hang_pid=$!
	trap 'kill "$hang_pid" 2>/dev/null || true; cleanup' EXIT
fi
for ((r = 1; r <= RUNS; r++)); do
	run_one without "$ROOT/testdata/bench/without.yaml" "$r"
	# With a baseline, the two builds take turns going first (the machine drifts within a run).
	if [[ -n "$BASELINE" ]] && ((r % 2 == 0)); then
		run_one baseline-with "$ROOT/testdata/bench/with.yaml" "$r" "$BASELINE"
		run_one with "$ROOT/testdata/bench/with.yaml" "$r"
	else
		run_one with "$ROOT/testdata/bench/with.yaml" "$r"
		[[ -z "$BASELINE" ]] || run_one baseline-with "$ROOT/testdata/bench/with.yaml" "$r" "$BASELINE"
	fi
	if [[ -n "$hang_pid" ]]; then
		run_one with-llm-hanging "$ROOT/testdata/bench/with-llm-hanging.yaml" "$r"
	fi
done

echo
echo "| config | run | records/s | drain s | collector CPU s | CPU µs/record | peak RSS MiB | exported |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
awk '{printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$WORK/rows"
echo
awk '{cpu[$1] += $5; rate[$1] += $3}
END {
	if (cpu["without"] > 0) printf "CPU ratio with/without: %.2f (collector CPU per record, summed over runs)\n", cpu["with"] / cpu["without"]
	else print "CPU ratio with/without: n/a (no CPU time measured without the processor)"
	if (rate["without"] > 0) printf "throughput ratio with/without: %.2f (records/s, summed over runs)\n", rate["with"] / rate["without"]
	if (cpu["baseline-with"] > 0) {
		printf "CPU ratio with/baseline-with: %.3f (this build against BASELINE, summed over runs)\n", cpu["with"] / cpu["baseline-with"]
	}
	if (cpu["with-llm-hanging"] > 0 && cpu["with"] > 0) {
		printf "CPU ratio with-llm-hanging/with: %.3f (collector CPU per record, summed over runs)\n", cpu["with-llm-hanging"] / cpu["with"]
		printf "throughput ratio with-llm-hanging/with: %.3f (records/s, summed over runs)\n", rate["with-llm-hanging"] / rate["with"]
	}
}' "$WORK/rows"
if [[ -n "$BASELINE" ]]; then
	# The median of the per-run ratios: one run disturbed by the machine moves it little.
	awk '$1 == "with" {w[$2] = $5} $1 == "baseline-with" {b[$2] = $5}
	END {
		n = 0
		for (r in w) if (b[r] > 0) q[++n] = w[r] / b[r]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && q[j] < q[j-1]; j--) { t = q[j]; q[j] = q[j-1]; q[j-1] = t }
		if (n > 0) printf "median of the per-run CPU ratios with/baseline-with: %.3f over %d runs (lowest %.3f, highest %.3f)\n", (n % 2 ? q[(n+1)/2] : (q[n/2] + q[n/2+1]) / 2), n, q[1], q[n]
	}' "$WORK/rows"
fi
if [[ -s "$WORK/with-metrics.txt" ]]; then
	echo
	echo "llm_anomaly counters after the last 'with' run:"
	grep -E '^otelcol_processor_llm_anomaly' "$WORK/with-metrics.txt" | grep -v '_bucket{' | sed 's/^/  /' | head -n 30 || true
fi
