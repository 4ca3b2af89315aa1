#!/usr/bin/env bash
# Faults of the cluster on loopback (bench-sim, serve, bench-worker processes):
#   - SIGKILL one of three workers mid-run under cluster.onWorkerLoss: fail - the run ends with
#     exit 1 after the lease, with partial results that name the lost worker;
#   - SIGKILL the controller mid-run and restart it on the same port - `list` shows the run as
#     interrupted, `fetch` gives readable partial results, the workers reconnect.
# Usage: cluster_faults_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: cluster_faults_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
sim=$build/sim/bench-sim
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done
  exit 1
}
wait_port() {
  local port=""
  for _ in $(seq 200); do
    port=$(sed -n "s/.*$2 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$1" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# elapsed RUN: seconds into the run, from `status` (0 before it starts).
elapsed() {
  "$controller" status "$1" "${ctl[@]}" 2>/dev/null |
    sed -n 's/.*\[\(running\|warmup\|draining\) *\([0-9.]*\)s.*/\2/p' | head -1
}
wait_elapsed() {  # RUN SECONDS
  for _ in $(seq 400); do
    local e
    e=$(elapsed "$1")
    if [ -n "$e" ] && python3 -c "import sys; sys.exit(0 if float('$e') >= $2 else 1)"; then
      return 0
    fi
    sleep 0.05
  done
  fail "run $1 did not reach $2 s"
}
start_serve() {  # LISTEN LOG
  "$controller" serve --insecure --listen "$1" --lease 2s --allow-target 127.0.0.1/32 \
    --results-dir "$work/server-results" >>"$2" 2>&1 &
  serve_pid=$!
  pids+=($serve_pid)
}

"$sim" --listen 127.0.0.1:0 --model m --ttft 20ms --itl 5ms >"$work/sim.log" 2>&1 &
pids+=($!)
sim_port=$(wait_port "$work/sim.log" "listening on") || fail "no sim port"
start_serve 127.0.0.1:0 "$work/serve.log"
port=$(wait_port "$work/serve.log" "listening on") || fail "no controller port"
ctl=(--controller "127.0.0.1:$port" --insecure)
declare -A worker_pid
for i in 1 2 3; do
  "$worker" --controller "127.0.0.1:$port" --insecure --threads 1 --name "w$i" \
    >"$work/worker$i.log" 2>&1 &
  worker_pid[$i]=$!
  pids+=($!)
done

config() {  # NAME WORKERS DURATION
  cat >"$work/$1.yaml" <<YAML
benchmark: {name: $1, duration: $3}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: constant, rate: 30}
prompts: {inputLength: {mean: 50, stddev: 5}, outputLength: {mean: 10, stddev: 1}}
cluster: {workers: $2}
output: {formats: [json]}
YAML
}

# --- a lost worker under onWorkerLoss: fail ----------------------------------------------------
config lose-one 3 30
rc=0
"$controller" submit "${ctl[@]}" --config "$work/lose-one.yaml" --output "$work/client" --quiet \
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
