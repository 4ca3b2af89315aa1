#!/usr/bin/env bash
# Capacity search against a fine manual scan, on bench-sim with a known knee: 16 sequences at
# once, TTFT 50 ms, ITL 10 ms, 30 output tokens, so a request holds a slot 340 ms and the sim
# completes at most 16 / 0.34 = 47.1 requests/s. The SLO is TTFT p99 <= 200 ms.
#  1. the manual scan: one stages run from 36 to 54 requests/s in steps of 1 (10 s each); its
#     answer is the highest stage before the first one that missed the SLO;
#  2. `load.type: capacity` with the same SLO and arrivals, resolution 2%.
# Prints both answers and their difference; exit 1 when it exceeds 10% of the scan's.
# Not part of ctest (about 6 minutes).
#   tests/perf/capacity_check.sh [BUILD_DIR]
set -euo pipefail
build=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"

start_sim "$work/sim.log" --model m --ttft 50ms --itl 10ms --max-num-seqs 16 --max-queue 100000
common="target: {endpoint: \"http://127.0.0.1:$sim_port/v1/completions\", model: m}
prompts: {inputLength: {mean: 100, stddev: 0}, outputLength: {mean: 30, stddev: 0, min: 30, max: 30}}
slo: {ttft: {p99: 200ms}}"
stages=$(python3 -c "print(', '.join('{rate: %d, duration: 10s}' % r for r in range(36, 55)))")
cat >"$work/scan.yaml" <<YAML
benchmark: {name: scan, warmup: 5s}
$common
load: {type: stages, stages: [$stages]}
output: {dir: "$work/results", formats: [json]}
YAML
cat >"$work/capacity.yaml" <<YAML
benchmark: {name: capacity, duration: 10s, warmup: 5s}
$common
load: {type: capacity, arrival: constant, capacity: {start: 8, resolution: 2%, minRequests: 300}}
output: {dir: "$work/results", formats: [json]}
YAML

echo "knee of the sim: 16 / 0.34 s = $(python3 -c 'print(round(16 / 0.34, 2))') requests/s"
echo "1. manual scan: stages 36..54 requests/s, 10 s each"
rc=0
"$controller" run --config "$work/scan.yaml" --quiet >"$work/scan.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "the scan: exit $rc"
scan=$(python3 - "$(ls -d "$work"/results/scan-*/)summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
answer = None
for stage in d["stages"]:
    ok = stage["slo"]["passed"]
    p99 = stage["latency"]["ttft"]["percentiles"]["p99"]
    print("   stage %2d: %5.1f req/s offered, TTFT p99 %8.1f ms: %s" % (
        stage["stage"], stage["rate"], p99, "met" if ok else "missed"),
        file=sys.stderr)
    if not ok:
        break
    answer = stage["rate"]
print(answer)
PY
)
echo "   scan: the highest rate before the first miss is $scan requests/s"
echo "2. capacity search"
"$controller" run --config "$work/capacity.yaml" >"$work/capacity.out" 2>"$work/capacity.err" ||
  fail "capacity: exit $?"
grep -E "^ *[0-9]+ rate|^capacity:" "$work/capacity.out"
found=$(json "$(ls -d "$work"/results/capacity-*/)series.json" "d['answer']['rate']")
python3 - "$scan" "$found" <<'PY'
import sys
scan, found = float(sys.argv[1]), float(sys.argv[2])
diff = abs(found - scan) / scan
print("capacity search %.2f req/s vs manual scan %.2f req/s: %.1f%% apart (limit 10%%)" % (
    found, scan, 100 * diff))
sys.exit(0 if diff <= 0.10 else 1)
PY
