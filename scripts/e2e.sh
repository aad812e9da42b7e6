#!/usr/bin/env bash
# End-to-end test: the built distribution receives a simulated database-pool-exhaustion fault
# over OTLP (processor + connector + rca exporter) and the forwarded incident must name the
# injected root cause (orders-db). Everything runs on loopback; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=./bin
LOG=$(mktemp)
trap 'kill "${COL_PID:-}" 2>/dev/null || true; wait "${COL_PID:-}" 2>/dev/null || true; rm -f "$LOG"' EXIT

"$BIN/otelcol-aiops" --config testdata/e2e/config.yaml >"$LOG" 2>&1 &
COL_PID=$!

# Event time ends five minutes before now, so no timestamp is in the future.
START=$(date -u -d '-30 min' +%Y-%m-%dT%H:%M:%SZ)
"$BIN/aiops-sim" -endpoint http://127.0.0.1:14318 -scenario db_pool_exhaustion -target orders-db \
  -duration 25m -fault-at 18m -speed 0 -start "$START" -wait 30s

for _ in $(seq 1 60); do
  if grep -q "root cause:  orders-db:" "$LOG"; then
    echo "e2e: PASS: the incident names the injected root cause (orders-db)"
    grep -E "INCIDENT|root cause:" "$LOG" | tail -2
    exit 0
  fi
  if ! kill -0 "$COL_PID" 2>/dev/null; then
    break
  fi
  sleep 1
done
echo "e2e: FAIL: no incident naming orders-db; collector output follows" >&2
tail -50 "$LOG" >&2
exit 1
