#!/usr/bin/env bash
# summary.json and metrics.json of real runs validate against their versioned JSON schemas
# (controller/schemas/*.v1.schema.json, every object closed to undocumented keys): a stages run
# with SLOs (per-stage verdicts, goodput) and a closed-loop run, against a bench-sim that fails
# 5% of requests (error categories present).
# Usage: results_schema_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: results_schema_test.sh BUILD_DIR SOURCE_DIR}
source_dir=${2:?usage: results_schema_test.sh BUILD_DIR SOURCE_DIR}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 10ms --itl 2ms --max-num-seqs 8 \
  --failure-rate 0.05 --failure-kinds 503,truncate
cat >"$work/stages.yaml" <<YAML
benchmark: {name: stages, warmup: 1s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: stages, stages: [{rate: 10, duration: 2s}, {rate: 40, duration: 2s}]}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 10, stddev: 2}}
slo: {ttft: {p99: 200ms}, itl: {p99: 50ms}, errorRate: {max: 0.5}}
output: {dir: "$work/results", formats: [json]}
YAML
cat >"$work/closed.yaml" <<YAML
benchmark: {name: closed, duration: 2s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: concurrency, concurrency: 4}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 10, stddev: 2}}
output: {dir: "$work/results", formats: [json]}
YAML
for name in stages closed; do
  rc=0
  "$build/controller/bench-controller" run --config "$work/$name.yaml" --quiet >"$work/$name.out" 2>&1 ||
    rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "$name: exit $rc: $(cat "$work/$name.out")"
done
/usr/bin/python3 "$(dirname "$0")/validate_results.py" "$source_dir/controller/schemas" \
  "$work"/results/*/ || fail "a result does not match its schema"
echo "results schema test: ok"
