#!/usr/bin/env bash
# A worker whose wall clock is 30 s ahead (libfaketime; its monotonic clock untouched) in a
# two-worker run against bench-sim: the controller measures its offset (ping/pong) and starts it
# on its own clock, so it sends its half of the schedule on time and measures the same latencies;
# summary.json reports each worker's offset (about +30,000 ms and about 0) and round trip.
# Skipped (exit 77) without faketime.
# Usage: cluster_clock_skew_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: cluster_clock_skew_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# libfaketime preloaded into the worker itself (not through the faketime launcher, which forks:
# its PID would not be the worker's, and the worker would outlive the test).
libfaketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -f "$libfaketime" ] || { echo "faketime not installed: skipped"; exit 77; }
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 20ms --itl 5ms
"$controller" serve --insecure --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 \
  --results-dir "$work/server-results" >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/serve.log" "serve: listening on") || fail "no controller port"
ctl=(--controller "127.0.0.1:$port" --insecure)
LD_PRELOAD=$libfaketime FAKETIME="+30s" FAKETIME_DONT_FAKE_MONOTONIC=1 \
  "$worker" "${ctl[@]}" --threads 1 --name ahead >"$work/ahead.log" 2>&1 &
pids+=($!)
"$worker" "${ctl[@]}" --threads 1 --name exact >"$work/exact.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ "$(grep -c "connected from" "$work/serve.log")" -ge 2 ] && break
  sleep 0.05
done
[ "$(grep -c "connected from" "$work/serve.log")" -ge 2 ] ||
  fail "both workers should have connected (faketime cannot preload into a sanitizer build)"

cat >"$work/skew.yaml" <<YAML
benchmark: {name: skew, duration: 6}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: constant, rate: 30}
prompts: {inputLength: {mean: 50, stddev: 5}, outputLength: {mean: 10, stddev: 0}}
cluster: {workers: 2}
output: {formats: [json]}
YAML
before=$(sim_served)
"$controller" submit "${ctl[@]}" --config "$work/skew.yaml" --no-preflight --output "$work/client" --quiet \
  >"$work/submit.out" 2>&1 || fail "submit: exit $? $(cat "$work/submit.out")"
served=$(($(sim_served) - before))
summary=$(find "$work/client" -name summary.json | head -1)
worker_field() { json "$summary" "[w['$2'] for w in d['workers'] if w['name'] == '$1'][0]"; }
for name in ahead exact; do
  echo "$name: clock offset $(worker_field "$name" clock_offset_ms) ms" \
    "(round trip $(worker_field "$name" clock_rtt_ms) ms), $(worker_field "$name" requests) requests"
done
ttft=$(json "$summary" "d['latency']['ttft']['percentiles']['p50']")
lag=$(json "$summary" "d['latency']['schedule_lag']['percentiles']['p99']")
echo "run: $(json "$summary" "d['requests']['succeeded']") succeeded of 180 scheduled," \
  "bench-sim completed $served; TTFT p50 $ttft ms (sim: 20); schedule lag p99 $lag ms"
python3 - "$summary" "$served" <<'PY' || fail "the skewed worker was not corrected"
import json, sys
d = json.load(open(sys.argv[1]))
served = int(sys.argv[2])
w = {x["name"]: x for x in d["workers"]}
ok = abs(w["ahead"]["clock_offset_ms"] - 30000) < 100 and abs(w["exact"]["clock_offset_ms"]) < 100
ok = ok and d["requests"]["succeeded"] == 180 == served
ok = ok and w["ahead"]["requests"] == w["exact"]["requests"] == 90
latency = d["latency"]
ok = ok and abs(latency["ttft"]["percentiles"]["p50"] - 20) < 1
ok = ok and latency["schedule_lag"]["percentiles"]["p99"] < 10
sys.exit(0 if ok else 1)
PY
echo "PASS"
