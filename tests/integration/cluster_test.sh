#!/usr/bin/env bash
# The cluster on loopback: bench-sim, `bench-controller serve` and three bench-worker processes
# (OS-assigned ports), driven with `submit`, against the same config through `run`.
#   - security: an RPC without the token is UNAUTHENTICATED and starts nothing; a worker with a
#     wrong token is rejected (exit 6); a target outside the allow-list is refused (exit 6); the
#     token appears in no log, result or listing;
#   - a 20 s Poisson run through submit: the merged histograms equal the sum of every shard the
#     workers sent (bucket for bucket), the requests equal the sim's own counter, and the sent
#     requests equal the arrivals the schedule placed (within 1%);
#   - the same config through run with 3 in-process workers: the same request count, p50 TTFT and
#     ITL within 2%; status, list and fetch work.
# Usage: cluster_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: cluster_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
check=$build/tests/integration/cluster_check
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 50ms --itl 10ms --max-num-seqs 1024
endpoint="http://127.0.0.1:$sim_port/v1/chat/completions"

token="tok-$RANDOM$RANDOM-secret"
echo "$token" >"$work/token"
echo "wrong-token" >"$work/bad-token"
"$controller" serve --insecure --listen 127.0.0.1:0 --token-file "$work/token" \
  --allow-target 127.0.0.1/32 --results-dir "$work/server-results" \
  --metrics-listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/serve.log" "serve: listening on")
metrics_port=$(wait_port "$work/serve.log" "metrics: listening on")
ctl=(--controller "127.0.0.1:$port" --insecure)
echo "sim on $sim_port, controller on $port"

cat >"$work/poisson.yaml" <<YAML
benchmark: {name: cluster-poisson, duration: 20, seed: 11}
target: {endpoint: "$endpoint", model: m, protocol: h2c}
load: {type: poisson, rate: 40}
prompts: {inputLength: {mean: 100, stddev: 10}, outputLength: {mean: 20, stddev: 2}}
cluster: {workers: 3}
metrics: {raw: true}
output: {formats: [json]}
YAML

# --- security ------------------------------------------------------------------------------
rc=0
"$controller" submit "${ctl[@]}" --config "$work/poisson.yaml" >"$work/noauth.out" 2>&1 || rc=$?
[ "$rc" -eq 6 ] || fail "submit without a token: exit $rc, want 6"
grep -q "missing bearer token" "$work/noauth.out" || fail "no UNAUTHENTICATED message"
grep -q "code 16" "$work/noauth.out" || fail "not UNAUTHENTICATED (16): $(cat "$work/noauth.out")"
rc=0
"$controller" list "${ctl[@]}" --token-file "$work/bad-token" >"$work/badlist.out" 2>&1 || rc=$?
[ "$rc" -eq 6 ] || fail "list with a wrong token: exit $rc, want 6"
"$controller" list "${ctl[@]}" --token-file "$work/token" >"$work/list0.out"
[ "$(wc -l <"$work/list0.out")" -eq 1 ] || fail "a refused submit started a run: $(cat "$work/list0.out")"

rc=0
timeout 20 "$worker" --controller "127.0.0.1:$port" --insecure --token-file "$work/bad-token" \
  --name intruder >"$work/intruder.log" 2>&1 || rc=$?
[ "$rc" -eq 6 ] || fail "a worker with a wrong token: exit $rc, want 6"
grep -q "refused it" "$work/intruder.log" || fail "the worker does not say it was refused"

for i in 1 2 3; do
  "$worker" --controller "127.0.0.1:$port" --insecure --token-file "$work/token" --threads 1 \
    --name "w$i" --record-shards "$work/shards-w$i.bin" >"$work/worker$i.log" 2>&1 &
  pids+=($!)
done

# expect_denied NAME: NAME.yaml with its target moved to 127.0.0.2, outside the allow-list, is
# refused (exit 6, saying why).
expect_denied() {
  sed "s|127.0.0.1:$sim_port|127.0.0.2:$sim_port|" "$work/$1.yaml" >"$work/$1-denied.yaml"
  local rc=0
  "$controller" submit "${ctl[@]}" --token-file "$work/token" --config "$work/$1-denied.yaml" \
    >"$work/$1-denied.out" 2>&1 || rc=$?
  [ "$rc" -eq 6 ] || fail "$1: a target outside the allow-list: exit $rc, want 6"
  grep -q "outside the allow-list" "$work/$1-denied.out" || fail "$1: no allow-list message"
}
expect_denied poisson

# --- a distributed run ---------------------------------------------------------------------
before=$(sim_served)
rc=0
"$controller" submit "${ctl[@]}" --token-file "$work/token" --config "$work/poisson.yaml" --no-preflight \
  --output "$work/client-results" >"$work/submit.out" 2>"$work/submit.err" || rc=$?
cat "$work/submit.out"
[ "$rc" -eq 0 ] || { cat "$work/submit.err" "$work/serve.log"; fail "submit exit $rc"; }
after=$(sim_served)
results=$(sed -n 's/^results: //p' "$work/submit.out")
if [ ! -f "$results/summary.json" ] || [ ! -f "$results/metrics.json" ]; then
  fail "no results fetched"
fi
run_id=$(basename "$results")

"$check" merge "$results/metrics.json" "$work"/shards-w*.bin || fail "merge is not exact"
in_window=$(json "$results/summary.json" "d['requests']['in_window']")
succeeded=$(json "$results/summary.json" "d['requests']['succeeded']")
sent=$(json "$results/summary.json" "d['rates']['sent']")
workers=$(json "$results/summary.json" "len(d['workers'])")
echo "submit: $in_window requests ($succeeded succeeded, $sent sent) on $workers workers;" \
  "the sim served $((after - before))"
[ "$workers" -eq 3 ] || fail "summary lists $workers workers, want 3"
[ "$in_window" -eq "$((after - before))" ] || fail "requests $in_window != sim's $((after - before))"
[ "$succeeded" -eq "$in_window" ] || fail "not every request succeeded"
# metrics.raw: one record per request from the three workers, fetched with the results.
python3 "$(dirname "$0")/check_requests_jsonl.py" "$results" 3 || fail "requests.jsonl (submit)"
scheduled=$("$check" scheduled "$work/poisson.yaml" 3 1)
echo "schedule placed $scheduled arrivals; sent $sent"
python3 - "$sent" "$scheduled" <<'PY' || fail "sent differs from the schedule by more than 1%"
import sys
sent, scheduled = int(sys.argv[1]), int(sys.argv[2])
sys.exit(0 if abs(sent - scheduled) <= 0.01 * scheduled else 1)
PY

# --- client commands -------------------------------------------------------------------------
"$controller" status "$run_id" "${ctl[@]}" --token-file "$work/token" >"$work/status.out"
grep -q "succeeded" "$work/status.out" || fail "status: $(cat "$work/status.out")"
"$controller" list "${ctl[@]}" --token-file "$work/token" >"$work/list.out"
grep -q "$run_id" "$work/list.out" || fail "list does not show the run"
"$controller" fetch "$run_id" "${ctl[@]}" --token-file "$work/token" --output "$work/fetched" \
  >/dev/null
cmp "$work/fetched/$run_id/summary.json" "$results/summary.json" || fail "fetch differs"
rc=0
"$controller" cancel "$run_id" "${ctl[@]}" --token-file "$work/token" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "cancelling a finished run: exit $rc, want 1"
rc=0
"$controller" status no-such-run "${ctl[@]}" --token-file "$work/token" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "status of an unknown run: exit $rc, want 1"

# --- submit without a model: the controller takes the one the target lists ---------------------
cat >"$work/nomodel.yaml" <<YAML
benchmark: {name: cluster-nomodel, duration: 2, maxRequests: 6}
target: {endpoint: "$endpoint", protocol: h2c}
load: {type: concurrency, concurrency: 2}
prompts: {inputLength: {mean: 20}, outputLength: {mean: 5}}
cluster: {workers: 2}
output: {formats: [json]}
YAML
"$controller" submit "${ctl[@]}" --token-file "$work/token" --config "$work/nomodel.yaml" --quiet \
  --output "$work/nomodel-results" >"$work/nomodel.out" 2>&1 ||
  { cat "$work/nomodel.out"; fail "submit without a model"; }
nomodel=$(sed -n 's/^results: //p' "$work/nomodel.out")
python3 - "$nomodel/summary.json" <<'PY' || fail "submit without a model: not the target's model"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["requests"]["succeeded"] == 6, s["requests"]
notes = [n for n in s["notes"] if n.startswith("target.model not set: m, the one model")]
assert notes, s["notes"]
print("submit without a model: 6 requests to model m; note:", notes[0])
PY
# Without a model too, a denied target is refused before the controller asks it anything.
expect_denied nomodel

# --- the same config through run --------------------------------------------------------------
"$controller" run --config "$work/poisson.yaml" --no-preflight --threads 3 --output "$work/run-results" --quiet \
  >"$work/run.out" 2>&1 || { cat "$work/run.out"; fail "run failed"; }
run_results=$(sed -n 's/^results: //p' "$work/run.out")
python3 "$(dirname "$0")/check_requests_jsonl.py" "$run_results" 3 || fail "requests.jsonl (run)"
python3 - "$results/summary.json" "$run_results/summary.json" <<'PY' || fail "run and submit differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def p50(d, metric):
    return d["latency"][metric]["percentiles"]["p50"]
ok = a["requests"]["in_window"] == b["requests"]["in_window"]
print(f"requests: submit {a['requests']['in_window']}, run {b['requests']['in_window']}")
for metric in ("ttft", "itl"):
    x, y = p50(a, metric), p50(b, metric)
    print(f"{metric} p50: submit {x:.3f} ms, run {y:.3f} ms ({abs(x - y) / y:.2%} apart)")
    ok = ok and abs(x - y) <= 0.02 * y
sys.exit(0 if ok else 1)
PY

# --- secrets -----------------------------------------------------------------------------------
curl -s "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.out"
grep -q '^llmd_bench_requests_total{outcome="success"}' "$work/metrics.out" || fail "no /metrics"
if grep -rq "$token" "$work"/*.log "$work"/*.out "$work/server-results" "$work/client-results" \
  "$work/run-results" 2>/dev/null; then
  fail "the token appears in a log, a result or /metrics"
fi
echo "secrets: the token is in no log, result, listing or /metrics"
echo "cluster test: ok"
