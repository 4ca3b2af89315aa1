#!/usr/bin/env bash
# `run` measures the truth through the cluster path (coordinator, in-process workers, shards):
# against bench-sim with a fixed 50 ms time to first token, TTFT p50 and mean are within
# 1% + 0.5 ms of it at 1 stream and at 500 streams (h2c), and ITL p50 within 1% + 0.5 ms of 20 ms.
# Usage: run_truth_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: run_truth_test.sh BUILD_DIR}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
start_sim "$work/sim.log" --model m --ttft 50ms --itl 20ms --max-num-seqs 1024
port=$sim_port

for streams in 1 500; do
  cat >"$work/truth-$streams.yaml" <<YAML
benchmark: {name: truth-$streams, duration: 6, warmup: 2}
target: {endpoint: "http://127.0.0.1:$port/v1/chat/completions", model: m, protocol: h2c}
load: {type: concurrency, concurrency: $streams}
prompts: {inputLength: {mean: 50, stddev: 5}, outputLength: {mean: 10, stddev: 1}}
output: {formats: [json]}
YAML
  "$build/controller/bench-controller" run --config "$work/truth-$streams.yaml" --quiet \
    --output "$work/results" >"$work/run-$streams.out" 2>&1 ||
    { cat "$work/run-$streams.out"; fail "run at $streams streams"; }
  summary=$(sed -n 's/^results: //p' "$work/run-$streams.out")/summary.json
  python3 - "$summary" "$streams" <<'PY' || fail "truth at $streams streams"
import json, sys
d = json.load(open(sys.argv[1]))
ttft, itl = d["latency"]["ttft"], d["latency"]["itl"]
checks = [("ttft p50", ttft["percentiles"]["p50"], 50.0), ("ttft mean", ttft["mean_ms"], 50.0),
          ("itl p50", itl["percentiles"]["p50"], 20.0)]
ok = d["requests"]["succeeded"] > 0 and d["requests"]["failed"] == 0
line = []
for name, value, truth in checks:
    good = abs(value - truth) <= 0.01 * truth + 0.5
    ok = ok and good
    line.append(f"{name} {value:.3f} ms (truth {truth:.0f}, {'ok' if good else 'OFF'})")
print(f"{sys.argv[2]} streams, {d['requests']['succeeded']} requests: " + "; ".join(line))
sys.exit(0 if ok else 1)
PY
done
echo "run truth test: ok"
