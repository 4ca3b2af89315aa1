#!/usr/bin/env bash
# SLO verdicts per stage and slo.abortOnFail, against bench-sim with 4 slots (about 18 req/s).
# A stages run whose third stage offers twice the capacity: its own TTFT p99 breaks the limit,
# so the run names stage 3 and exits 3. With abortOnFail, a run whose second stage overloads
# stops before its end with exit 4 and partial results that say why.
# Usage: slo_stages_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: slo_stages_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 20ms --itl 10ms --max-num-seqs 4
config() {  # config NAME STAGES ABORT
  cat <<YAML
benchmark: {name: $1, warmup: 0s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m, extraBody: {ignore_eos: true}}
load: {type: stages, stages: $2, concurrency: 512}
prompts: {inputLength: {mean: 20, stddev: 0}, outputLength: {mean: 20, stddev: 0}}
slo: {ttft: {p99: 500ms}, abortOnFail: $3}
output: {dir: "$work/results", formats: [json]}
YAML
}

# --- verdicts per stage: the third stage breaks TTFT p99 ------------------------------------------
config third '[{rate: 4, duration: 3s}, {rate: 8, duration: 3s}, {rate: 40, duration: 3s}]' false \
  >"$work/third.yaml"
rc=0
"$controller" run --config "$work/third.yaml" --quiet >"$work/third.out" 2>&1 || rc=$?
cat "$work/third.out"
[ "$rc" -eq 3 ] || fail "the overloaded third stage: exit $rc, want 3"
grep -q "stage 3 (40 req/s) is the first to break an SLO: ttft p99" "$work/third.out" ||
  fail "the table does not name stage 3"
grep -q "SLO FAILED (first at stage 3)" "$work/third.out" || fail "no verdict naming stage 3"
summary=$(ls -d "$work"/results/third-*/)summary.json
[ "$(json "$summary" "d['slo']['first_failed_stage']")" = 3 ] || fail "first_failed_stage is not 3"
[ "$(json "$summary" "[s['slo']['passed'] for s in d['stages']]")" = "[True, True, False]" ] ||
  fail "stage verdicts: $(json "$summary" "[s['slo'] for s in d['stages']]")"
echo "per-stage verdicts: stage 3 TTFT p99 $(json "$summary" \
  "d['stages'][2]['slo']['verdicts'][0]['actual_ms']") ms > 500 ms; stages 1-2 met"

# --- abortOnFail: the second stage overloads, the run stops before its 12 s ----------------------
config abort '[{rate: 4, duration: 3s}, {rate: 40, duration: 3s}, {rate: 4, duration: 6s}]' true \
  >"$work/abort.yaml"
rc=0
start=$(date +%s.%N)
"$controller" run --config "$work/abort.yaml" --quiet >"$work/abort.out" 2>&1 || rc=$?
took=$(python3 -c "import sys; print(round($(date +%s.%N) - $start, 1))")
cat "$work/abort.out"
[ "$rc" -eq 4 ] || fail "abortOnFail: exit $rc, want 4"
grep -q "ABORTED by slo.abortOnFail" "$work/abort.out" || fail "no abort verdict in the table"
summary=$(ls -d "$work"/results/abort-*/)summary.json
[ "$(json "$summary" "d['benchmark']['aborted']")" = True ] || fail "benchmark.aborted is not true"
measured=$(json "$summary" "d['benchmark']['measured_window_s']")
python3 -c "import sys; sys.exit(0 if $measured < 9 else 1)" ||
  fail "aborted after $measured s of the window: not before the third stage's end"
reason=$(json "$summary" "d['slo']['abort_reason']")
case "$reason" in *"ttft p99"*) ;; *) fail "abort_reason does not name the SLO: $reason" ;; esac
echo "abortOnFail: exit 4 after $measured s of a 12 s window ($took s in all): $reason"
echo "SLO stages test: ok"
