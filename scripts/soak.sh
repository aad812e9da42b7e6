#!/usr/bin/env bash
# Soak test: run the built collector (./bin/otelcol-aiops) on the demo pipeline
# (testdata/demo/config.yaml) under sustained load from the simulator (./bin/aiops-sim) for
# SOAK_DURATION, sample it every SOAK_INTERVAL and judge whether memory and goroutines stay flat.
# Run it with `make soak`, which builds ./bin/aiops-sim if missing; this script builds nothing
# and needs ./bin/otelcol-aiops already built (`make build`).
#
# The demo config is copied to a temporary directory and overlaid (a second --config, merged by
# the collector) with: the OTLP/HTTP receiver on a free loopback port, internal metrics at level
# normal with a Prometheus pull reader on a free loopback port, the pprof extension on a free
# loopback port (the collector exposes no goroutine metric: the count is read from
# /debug/pprof/goroutine) and the debug exporter at basic verbosity. Everything listens on
# 127.0.0.1 only.
#
# The simulator replays event time at SOAK_SPEED for longer than the soak (so the load lasts
# until the end; it is stopped then), with event time ending about now.
#
# Each sample (a markdown table row, printed as it is taken): elapsed time, log records accepted
# by the receivers (otelcol_receiver_accepted_log_records), records/s over the interval, RSS
# (VmRSS from /proc/PID/status), Go heap (otelcol_process_runtime_heap_alloc_bytes) and
# goroutines. At the end a verdict: RSS and goroutines are flat when the mean of the last third
# of the samples is within SOAK_TOLERANCE percent of the middle third's.
#
# Exit status: 0 flat, 1 failure (start-up, the collector died, no load accepted), 2 not flat.
#
# Environment (defaults): SOAK_DURATION=10m SOAK_INTERVAL=30s (durations: Ns, Nm or Nh)
# SOAK_SPEED=30 SOAK_RATE=20 SOAK_SCENARIO=none (or a fault kind of aiops-sim, e.g.
# db_pool_exhaustion: the fault starts at minute 18 of event time and lasts to the end)
# SOAK_TOLERANCE=20 COLLECTOR=./bin/otelcol-aiops SIM=./bin/aiops-sim
# SOAK_KEEP=1 keeps the working directory (configs, collector and simulator logs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COLLECTOR="${COLLECTOR:-$ROOT/bin/otelcol-aiops}"
SIM="${SIM:-$ROOT/bin/aiops-sim}"
SOAK_DURATION="${SOAK_DURATION:-10m}"
SOAK_INTERVAL="${SOAK_INTERVAL:-30s}"
SOAK_SPEED="${SOAK_SPEED:-30}"
SOAK_RATE="${SOAK_RATE:-20}"
SOAK_SCENARIO="${SOAK_SCENARIO:-none}"
SOAK_TOLERANCE="${SOAK_TOLERANCE:-20}"
READY_TIMEOUT_S=30 # collector start
LOAD_TIMEOUT_S=60  # first records accepted
STOP_TIMEOUT_S=20  # graceful shutdown
HOST=127.0.0.1

die() {
	echo "soak: $*" >&2
	exit 1
}

# seconds DURATION: Ns, Nm, Nh (or plain seconds) to seconds.
seconds() {
	local d="$1"
	[[ "$d" =~ ^([1-9][0-9]*)([smh]?)$ ]] || return 1
	case "${BASH_REMATCH[2]}" in
	h) echo $((BASH_REMATCH[1] * 3600)) ;;
	m) echo $((BASH_REMATCH[1] * 60)) ;;
	*) echo "${BASH_REMATCH[1]}" ;;
	esac
}

DURATION_S="$(seconds "$SOAK_DURATION")" || die "SOAK_DURATION must be like 90s, 10m or 1h"
INTERVAL_S="$(seconds "$SOAK_INTERVAL")" || die "SOAK_INTERVAL must be like 15s, 1m"
((DURATION_S >= 3 * INTERVAL_S)) || die "SOAK_DURATION must be at least 3 x SOAK_INTERVAL (thirds are compared)"
[[ "$SOAK_SPEED" =~ ^[1-9][0-9]*$ ]] || die "SOAK_SPEED must be a positive integer"
[[ "$SOAK_RATE" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SOAK_RATE must be a number"
[[ "$SOAK_TOLERANCE" =~ ^[1-9][0-9]*$ ]] || die "SOAK_TOLERANCE must be a positive integer (percent)"
[[ -x "$COLLECTOR" ]] || die "$COLLECTOR not found: run 'make build' first"
[[ -x "$SIM" ]] || die "$SIM not found: run 'make soak' (it builds it) or 'go build -o bin/aiops-sim ./cmd/aiops-sim'"
[[ -r /proc/self/status ]] || die "needs Linux /proc"
command -v curl >/dev/null || die "needs curl (to read the collector's metrics)"

WORK="$(mktemp -d)"
pid=""     # the collector
sim_pid="" # the simulator
sleep_pid=""
stop_proc() { # stop_proc PID NAME: SIGTERM, bounded wait, then SIGKILL
	local p="$1" i
	[[ -n "$p" ]] || return 0
	kill -0 "$p" 2>/dev/null || {
		wait "$p" 2>/dev/null || true
		return 0
	}
	kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "soak: $2 did not stop after ${STOP_TIMEOUT_S}s, killing it" >&2
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
}
cleanup() {
	if [[ -n "$sleep_pid" ]]; then kill "$sleep_pid" 2>/dev/null || true; fi
	stop_proc "$sim_pid" simulator
	sim_pid=""
	stop_proc "$pid" collector
	pid=""
	if [[ "${SOAK_KEEP:-0}" == 1 ]]; then
		echo "soak: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# free_ports N: N distinct free loopback ports.
free_ports() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
		return
	fi
	local ports=() p tries=0
	while ((${#ports[@]} < $1)); do
		((tries++ < 1000)) || return 1
		p=$((20000 + RANDOM % 40000))
		port_open "$p" && continue
		[[ " ${ports[*]} " == *" $p "* ]] && continue
		ports+=("$p")
	done
	echo "${ports[*]}"
}

read -r OTLP_PORT METRICS_PORT PPROF_PORT <<<"$(free_ports 3)" || die "no free ports"
[[ -n "${PPROF_PORT:-}" ]] || die "no free ports"

cp "$ROOT/testdata/demo/config.yaml" "$WORK/config.yaml"
cat >"$WORK/soak.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: $HOST:$OTLP_PORT
exporters:
  debug:
    verbosity: basic
extensions:
  pprof:
    endpoint: $HOST:$PPROF_PORT
service:
  extensions: [pprof]
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: $HOST
                port: $METRICS_PORT
EOF

scrape() { curl -fsS --max-time 5 "http://$HOST:$METRICS_PORT/metrics"; }

# metric NAME_REGEX: the sum of a metric's series in the last scrape ($WORK/scrape).
metric() {
	awk -v re="^($1)([{ ]|\$)" '$0 ~ re {s += $NF; n++} END {if (n) printf "%.0f\n", s; else print "NA"}' "$WORK/scrape"
}

goroutines() {
	curl -fsS --max-time 5 "http://$HOST:$PPROF_PORT/debug/pprof/goroutine?debug=1" 2>/dev/null |
		awk 'NR == 1 && /^goroutine profile: total/ {print $4; found = 1} END {if (!found) print "NA"}'
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo NA; }

ACCEPTED='otelcol_receiver_accepted_log_records(_total)?'
HEAP='otelcol_process_runtime_heap_alloc_bytes(_total)?'

echo "# otelcol-aiops soak: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# $("$COLLECTOR" --version 2>/dev/null || echo "$COLLECTOR"); $(nproc --all) CPUs"
echo "# duration=$SOAK_DURATION interval=$SOAK_INTERVAL speed=${SOAK_SPEED}x rate=$SOAK_RATE/s scenario=$SOAK_SCENARIO tolerance=${SOAK_TOLERANCE}%"

"$COLLECTOR" --config "$WORK/config.yaml" --config "$WORK/soak.yaml" >"$WORK/collector.log" 2>&1 &
pid=$!
ready=0
for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
	if ! kill -0 "$pid" 2>/dev/null; then
		tail -n 30 "$WORK/collector.log" >&2
		pid=""
		die "the collector exited during start-up"
	fi
	if port_open "$OTLP_PORT" && port_open "$METRICS_PORT" && port_open "$PPROF_PORT"; then
		ready=1
		break
	fi
	sleep 0.1
done
((ready)) || {
	tail -n 30 "$WORK/collector.log" >&2
	die "the collector was not ready after ${READY_TIMEOUT_S}s"
}

# Event time: longer than the soak (plus a minute of margin), ending about now.
EVENT_S=$(((DURATION_S + 60) * SOAK_SPEED))
START="$(date -u -d "-$EVENT_S seconds" +%Y-%m-%dT%H:%M:%SZ)"
sim_args=(-endpoint "http://$HOST:$OTLP_PORT" -speed "$SOAK_SPEED" -rate "$SOAK_RATE"
	-duration "${EVENT_S}s" -start "$START" -scenario "$SOAK_SCENARIO" -wait 10s)
[[ "$SOAK_SCENARIO" == none ]] || sim_args+=(-target orders-db)
"$SIM" "${sim_args[@]}" >"$WORK/sim.log" 2>&1 &
sim_pid=$!

# Wait (bounded) until records are accepted: the load is on.
accepted=0
for ((i = 0; i < LOAD_TIMEOUT_S; i++)); do
	kill -0 "$pid" 2>/dev/null || die "the collector died while the load started"
	if ! kill -0 "$sim_pid" 2>/dev/null; then
		tail -n 20 "$WORK/sim.log" >&2
		die "the simulator exited while the load started"
	fi
	if scrape >"$WORK/scrape" 2>/dev/null; then
		accepted="$(metric "$ACCEPTED")"
		[[ "$accepted" != NA ]] && ((accepted > 0)) && break
	fi
	sleep 1
done
[[ "$accepted" != NA ]] && ((accepted > 0)) || {
	tail -n 20 "$WORK/sim.log" "$WORK/collector.log" >&2
	die "no log records accepted after ${LOAD_TIMEOUT_S}s"
}

echo
echo "| elapsed s | accepted log records | records/s | RSS MiB | heap MiB | goroutines |"
echo "|---:|---:|---:|---:|---:|---:|"

samples=$((DURATION_S / INTERVAL_S))
t_start="$(date +%s.%N)"
prev_acc="$accepted"
prev_t="$t_start"
sim_done=0
for ((s = 1; s <= samples; s++)); do
	# Sleep until the sample's time (in the background: a signal is handled at once).
	wake="$(awk -v t0="$t_start" -v k="$s" -v iv="$INTERVAL_S" -v now="$(date +%s.%N)" \
		'BEGIN {d = t0 + k * iv - now; printf "%.3f\n", (d > 0 ? d : 0)}')"
	sleep "$wake" &
	sleep_pid=$!
	wait "$sleep_pid" || true
	sleep_pid=""

	kill -0 "$pid" 2>/dev/null || {
		tail -n 30 "$WORK/collector.log" >&2
		die "the collector died during the soak (sample $s)"
	}
	if ((!sim_done)) && ! kill -0 "$sim_pid" 2>/dev/null; then
		sim_done=1
		echo "soak: the simulator exited before the end (sample $s); the load has stopped" >&2
		tail -n 5 "$WORK/sim.log" >&2
	fi
	now="$(date +%s.%N)"
	if scrape >"$WORK/scrape" 2>/dev/null; then
		acc="$(metric "$ACCEPTED")"
		heap="$(metric "$HEAP")"
	else
		echo "soak: metrics scrape failed at sample $s" >&2
		acc=NA heap=NA
	fi
	rss="$(rss_kb "$pid")"
	gor="$(goroutines)"
	awk -v t0="$t_start" -v now="$now" -v pt="$prev_t" -v acc="$acc" -v pacc="$prev_acc" \
		-v rss="$rss" -v heap="$heap" -v gor="$gor" 'BEGIN {
		rate = (acc == "NA" || pacc == "NA") ? "NA" : sprintf("%.0f", (acc - pacc) / (now - pt))
		printf "| %.0f | %s | %s | %s | %s | %s |\n", now - t0, acc, rate,
			rss == "NA" ? "NA" : sprintf("%.1f", rss / 1024), heap == "NA" ? "NA" : sprintf("%.1f", heap / 1048576), gor
	}'
	echo "$s $rss $gor $acc" >>"$WORK/samples"
	[[ "$acc" == NA ]] || prev_acc="$acc"
	prev_t="$now"
done

# Verdict: mean of the last third against the middle third, for RSS and goroutines.
verdict="$(awk -v n="$samples" -v tol="$SOAK_TOLERANCE" '
	{ idx = $1 - 1; third = int(idx * 3 / n)
	  if (third == 1 || third == 2) {
	    if ($2 != "NA") { rs[third] += $2; rn[third]++ }
	    if ($3 != "NA") { gs[third] += $3; gn[third]++ } } }
	function judge(name, s, c,    m, l, d) {
	  if (!c[1] || !c[2]) { bad = 1; return sprintf("%s: no data", name) }
	  m = s[1] / c[1]; l = s[2] / c[2]; d = (l - m) * 100 / m
	  if (d > tol || d < -tol) bad = 1
	  return sprintf("%s %s (middle third mean %.1f, last third mean %.1f, %+.1f%%)", name, (d > tol || d < -tol) ? "NOT flat" : "flat", m, l, d)
	}
	END {
	  r = judge("RSS KiB", rs, rn); g = judge("goroutines", gs, gn)
	  printf "%s: %s; %s\n", bad ? "NOT FLAT" : "FLAT", r, g
	}' "$WORK/samples")"
echo
echo "**Verdict** (last third within ${SOAK_TOLERANCE}% of the middle third): $verdict"

first_acc="$accepted"
last_acc="$(awk '$4 != "NA" {a = $4} END {print a + 0}' "$WORK/samples")"
((last_acc > first_acc)) || die "no log records were accepted during the soak"
[[ "$verdict" == FLAT:* ]] || exit 2
