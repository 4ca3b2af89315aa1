#!/usr/bin/env bash
# Faults of the cluster on loopback (bench-sim, serve, bench-worker processes):
#   - SIGKILL one of three workers mid-run under cluster.onWorkerLoss: fail - the run ends with
#     exit 1 after the lease, with partial results that name the lost worker;
#   - SIGKILL one of three workers mid-run under onWorkerLoss: rebalance - the rate the sim serves
#     is back within 2% of the target within lease + 2 s and never above it; the summary names
#     the lost worker;
#   - a worker that joins a rebalance run mid-run gets a share;
#   - SIGKILL the controller mid-run and restart it on the same port - `list` shows the run as
#     interrupted, `fetch` gives readable partial results, the workers reconnect.
# Usage: cluster_faults_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: cluster_faults_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
start_serve() {  # LISTEN LOG
  "$controller" serve --insecure --listen "$1" --lease 2s --allow-target 127.0.0.1/32 \
    --results-dir "$work/server-results" >>"$2" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
}

start_sim "$work/sim.log" --model m --ttft 20ms --itl 5ms
start_serve 127.0.0.1:0 "$work/serve.log"
port=$(wait_port "$work/serve.log" "listening on") || fail "no controller port"
ctl=(--controller "127.0.0.1:$port" --insecure)
config() {  # NAME WORKERS DURATION [POLICY]
  cat >"$work/$1.yaml" <<YAML
benchmark: {name: $1, duration: $3}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: constant, rate: 30}
prompts: {inputLength: {mean: 50, stddev: 5}, outputLength: {mean: 10, stddev: 1}}
cluster: {workers: $2, onWorkerLoss: ${4:-fail}}
output: {formats: [json]}
YAML
}
wait_done() {  # RUN
  for _ in $(seq 1200); do
    "$controller" status "$1" "${ctl[@]}" | head -1 | grep -qE ": (succeeded|failed|cancelled|slo-failed)" &&
      return 0
    sleep 0.05
  done
  fail "run $1 did not finish"
}
start_worker() {  # N
  "$worker" --controller "127.0.0.1:$port" --insecure --threads 1 --name "w$1" \
    >"$work/worker$1.log" 2>&1 &
  worker_pid[$1]=$!
  pids+=($!)
}

declare -A worker_pid
for i in 1 2 3; do start_worker "$i"; done

# --- a lost worker under onWorkerLoss: fail ----------------------------------------------------
config lose-one 3 30
rc=0
"$controller" submit "${ctl[@]}" --config "$work/lose-one.yaml" --no-preflight --output "$work/client" --quiet \
  >"$work/lose-one.out" 2>"$work/lose-one.err" &
submit_pid=$!
run_id=""
for _ in $(seq 200); do
  run_id=$("$controller" list "${ctl[@]}" | awk 'NR > 1 && /lose-one/ {print $1; exit}')
  [ -n "$run_id" ] && break
  sleep 0.05
done
[ -n "$run_id" ] || fail "the run did not appear in list"
wait_elapsed "$run_id" 3
kill -9 "${worker_pid[2]}"
killed_at=$(date +%s.%N)
wait "$submit_pid" || rc=$?
ended_at=$(date +%s.%N)
[ "$rc" -eq 1 ] || fail "a lost worker under fail: submit exit $rc, want 1"
echo "lost worker: the run ended $(python3 -c "print(f'{$ended_at - $killed_at:.1f}')") s after the kill (lease 2 s)"
grep -q "worker w2 lost" "$work/lose-one.err" || fail "the error does not name the lost worker"
results=$(sed -n 's/^results: //p' "$work/lose-one.out")
[ -f "$results/summary.json" ] || fail "no partial results"
lost=$(json "$results/summary.json" "[w['name'] for w in d['workers'] if w['lost']]")
[ "$lost" = "['w2']" ] || fail "summary lists lost workers $lost"
in_window=$(json "$results/summary.json" "d['requests']['in_window']")
[ "$in_window" -gt 0 ] || fail "the partial results hold no requests"
echo "partial results: $in_window requests, lost workers $lost"

# --- a lost worker under onWorkerLoss: rebalance ------------------------------------------------
start_worker 4  # w1, w3, w4
config rebalance 3 20 rebalance
"$controller" submit "${ctl[@]}" --config "$work/rebalance.yaml" --detach >"$work/id.out"
run_id=$(cat "$work/id.out")
wait_elapsed "$run_id" 0.5
# Each sample is stamped at the middle of its request, so a slow reply under load skews less.
(
  while true; do
    before=$(date +%s.%N)
    count=$(sim_served)
    echo "$(python3 -c "print(($before + $(date +%s.%N)) / 2)") $count"
    sleep 0.2
  done
) >"$work/served.txt" &
sampler=$!
pids+=("$sampler")
wait_elapsed "$run_id" 5
kill -9 "${worker_pid[4]}"
killed_at=$(date +%s.%N)
wait_done "$run_id"
kill "$sampler"
"$controller" fetch "$run_id" "${ctl[@]}" --output "$work/fetched" >/dev/null
summary="$work/fetched/$run_id/summary.json"
lost=$(json "$summary" "[w['name'] for w in d['workers'] if w['lost']]")
[ "$lost" = "['w4']" ] || fail "rebalance: summary lists lost workers $lost"
json "$summary" "[n for n in d['notes'] if 'rebalanced' in n][0]" || fail "no rebalance note"
# The rate the sim served, over sliding 4 s windows: never above the target (30/s, 2% and one
# request of slack for the window edges), back within 2% by lease (2 s) + 2 s after the kill.
python3 - "$work/served.txt" "$killed_at" <<'PY' || fail "rebalance: the rate did not recover"
import sys
samples = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if len(line.split()) == 2]
killed = float(sys.argv[2])
start, end = samples[0][0], samples[-1][0]
worst_above, recovered = 0.0, []
for t, count in samples:
    earlier = [c for (u, c) in samples if u <= t - 4.0]
    if not earlier or t < start + 4.5:
        continue
    base_t = max(u for (u, c) in samples if u <= t - 4.0)
    base = [c for (u, c) in samples if u == base_t][0]
    rate = (count - base) / (t - base_t)
    worst_above = max(worst_above, rate)
    if t - (t - base_t) >= killed + 4.0 and t <= end - 1.5:
        recovered.append(rate)
print(f"served rate: max {worst_above:.2f}/s over 4 s windows; after lease + 2 s: "
      f"min {min(recovered):.2f}/s, max {max(recovered):.2f}/s ({len(recovered)} windows)")
ok = worst_above <= 30 * 1.02 + 1 / 4 and recovered and all(abs(r - 30) <= 0.6 for r in recovered)
sys.exit(0 if ok else 1)
PY

# --- a worker joins a rebalance run mid-run and gets a share ------------------------------------
config elastic 2 12 rebalance
"$controller" submit "${ctl[@]}" --config "$work/elastic.yaml" --detach >"$work/id.out"
run_id=$(cat "$work/id.out")
wait_elapsed "$run_id" 3
start_worker 5
wait_done "$run_id"
"$controller" fetch "$run_id" "${ctl[@]}" --output "$work/fetched" >/dev/null
joined=$(json "$work/fetched/$run_id/summary.json" \
  "[w['requests'] for w in d['workers'] if w['name'] == 'w5']")
echo "elastic: w5 joined mid-run and sent $joined requests"
python3 -c "import sys; r = $joined; sys.exit(0 if r and r[0] > 0 else 1)" ||
  fail "the worker that joined got no share"

# --- the controller dies mid-run and comes back --------------------------------------------------
config interrupted 2 30
"$controller" submit "${ctl[@]}" --config "$work/interrupted.yaml" --detach >"$work/id.out"
run_id=$(cat "$work/id.out")
wait_elapsed "$run_id" 3
sleep 1.2  # At least one more flush (every interval) after the first second.
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
start_serve "127.0.0.1:$port" "$work/serve2.log"
wait_port "$work/serve2.log" "listening on" >/dev/null || fail "the controller did not restart"
"$controller" list "${ctl[@]}" >"$work/list.out"
cat "$work/list.out"
grep -q "^$run_id  *interrupted" "$work/list.out" || fail "the run is not listed as interrupted"
"$controller" fetch "$run_id" "${ctl[@]}" --output "$work/fetched" >/dev/null ||
  fail "fetch of the interrupted run"
partial=$(json "$work/fetched/$run_id/summary.json" "d['requests']['in_window']")
[ "$partial" -gt 0 ] || fail "the interrupted run's results hold no requests"
echo "interrupted run: $partial requests in its partial results"
for _ in $(seq 300); do
  [ "$(grep -c "connected from" "$work/serve2.log")" -ge 2 ] && break
  sleep 0.05
done
[ "$(grep -c "connected from" "$work/serve2.log")" -ge 2 ] || fail "the workers did not reconnect"
echo "workers reconnected: $(grep -c "connected from" "$work/serve2.log")"
echo "cluster faults test: ok"
