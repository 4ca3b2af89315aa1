#!/usr/bin/env bash
# histograms.hlog of a real two-stage run against bench-sim, read by hdr-histogram-js: each
# metric's lines add up to the summary's counts and percentiles.
# Usage: hlog_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: hlog_test.sh BUILD_DIR}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"

start_sim "$work/sim.log" --model m --ttft 15ms --itl 3ms --itl-jitter 1ms
cat >"$work/run.yaml" <<YAML
benchmark: {name: hlog, warmup: 1s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: stages, stages: [{rate: 20, duration: 2s}, {rate: 40, duration: 2s}]}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 12, stddev: 3}}
output: {dir: "$work/results", formats: [json]}
YAML
"$build/controller/bench-controller" run --config "$work/run.yaml" --quiet >"$work/run.out" 2>&1 ||
  fail "run: $(cat "$work/run.out")"
dir=$(ls -d "$work"/results/hlog-*/)
head -4 "$dir/histograms.hlog" | cut -c1-120
node "$(dirname "$0")/hlog_interop.js" "$dir" || fail "hdr-histogram-js disagrees with the summary"
