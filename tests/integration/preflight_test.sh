#!/usr/bin/env bash
# The preflight: one request before the run. A wrong model stops `run` within a second with
# exit 1 and bench-sim's own 404 text, before any window (no results directory, no summary);
# the right model passes it and runs; --no-preflight skips it; `submit` does the same on a
# daemon.
# Usage: preflight_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: preflight_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model right --ttft 5ms --itl 1ms
endpoint="http://127.0.0.1:$sim_port/v1/chat/completions"
quick=(--endpoint "$endpoint" --rate 20 --duration 2s --output "$work/results"
  --set 'output.formats=[json]' --set prompts.outputLength.mean=4)

# Wrong model: exit 1 within a second, the sim's error text, nothing else sent.
start=$(date +%s%N)
rc=0
"$controller" run "${quick[@]}" --model wrong >"$work/wrong.out" 2>"$work/wrong.err" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" -eq 1 ] || fail "wrong model: exit $rc, want 1: $(cat "$work/wrong.err")"
[ "$elapsed_ms" -lt 1000 ] || fail "wrong model: took $elapsed_ms ms, want under 1000"
grep -q 'preflight: the test request to .* failed: http_4xx:404 .*The model `wrong` does not exist' \
  "$work/wrong.err" || fail "wrong model: no 404 text: $(cat "$work/wrong.err")"
[ ! -d "$work/results" ] || [ -z "$(ls "$work/results")" ] || fail "wrong model: results were written: $(ls "$work/results")"
[ ! -s "$work/wrong.out" ] || fail "wrong model: a summary was printed: $(cat "$work/wrong.out")"
[ "$(sim_served)" -eq 0 ] || fail "wrong model: the sim completed $(sim_served) requests"
echo "wrong model: exit 1 in $elapsed_ms ms: $(grep -o 'preflight: .*' "$work/wrong.err")"

# The right model: the preflight passes and the run follows.
"$controller" run "${quick[@]}" --model right >"$work/right.out" 2>"$work/right.err" ||
  fail "right model: exit $?: $(cat "$work/right.err")"
grep -q "preflight: one request answered" "$work/right.err" || fail "no preflight line: $(cat "$work/right.err")"
ls -d "$work"/results/quick-*/ >/dev/null || fail "right model: no results directory"
# The preflight is one request on one worker, whatever the run's worker-loss policy.
"$controller" run "${quick[@]}" --model right --set cluster.onWorkerLoss=rebalance --quiet \
  >"$work/rebalance.out" 2>&1 || fail "onWorkerLoss rebalance: exit $?: $(cat "$work/rebalance.out")"
echo "right model: $(grep -o 'preflight: .*' "$work/right.err"), then the run: $(grep -c . "$work/right.out") lines of summary"

# --no-preflight: the window runs and every request fails as http_4xx:404.
rm -rf "$work/results"
rc=0
"$controller" run "${quick[@]}" --model wrong --no-preflight --quiet >"$work/skip.out" 2>&1 || rc=$?
grep -q "preflight" "$work/skip.out" && fail "--no-preflight still ran it"
summary=$(ls -d "$work"/results/quick-*/)summary.json
[ "$(json "$summary" "d['requests']['succeeded']")" = 0 ] || fail "--no-preflight: successes against a wrong model"
echo "--no-preflight: the window ran (exit $rc): $(json "$summary" "d['requests']['errors'][0]['category']") x $(json "$summary" "d['requests']['failed']")"

# submit: the daemon runs the preflight first.
start_dev_cluster
cat >"$work/wrong.yaml" <<YAML
benchmark: {name: remote, duration: 2s}
target: {endpoint: "$endpoint", model: wrong}
load: {type: constant, rate: 10}
output: {dir: "$work/client", formats: [json]}
YAML
rc=0
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/wrong.yaml" \
  >"$work/submit.out" 2>"$work/submit.err" || rc=$?
[ "$rc" -eq 1 ] || fail "submit, wrong model: exit $rc: $(cat "$work/submit.err")"
grep -q 'The model `wrong` does not exist' "$work/submit.err" || fail "submit: no 404 text: $(cat "$work/submit.err")"
[ ! -d "$work/client" ] || fail "submit: results fetched for a run that never started"
echo "submit, wrong model: exit 1: $(grep -o 'preflight: .*' "$work/submit.err")"
# The daemon ran the preflight as a run of its own, which `list` leaves out.
"$controller" list --controller "127.0.0.1:$port" --insecure >"$work/list.out" 2>&1 || fail "list: $(cat "$work/list.out")"
grep -q preflight "$work/list.out" && fail "list shows the preflight run: $(cat "$work/list.out")"
ls "$work"/server-results | grep -q "remote-preflight-" || fail "the daemon kept no results of the preflight"
echo "preflight test: ok"
