#!/usr/bin/env bash
# output.formats png: a stages run against bench-sim draws every chart of plots/ with gnuplot;
# each PNG is a real picture (its size, more than a few colours, not one flat colour). Without
# gnuplot a run that asks for png is refused before anything is sent (exit 2).
# Usage: plots_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: plots_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }

start_sim "$work/sim.log" --model m --ttft 15ms --itl 3ms --itl-jitter 1ms --max-num-seqs 16
cat >"$work/run.yaml" <<YAML
benchmark: {name: plots, warmup: 1s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: stages, stages: [{rate: 10, duration: 2s}, {rate: 30, duration: 2s}, {rate: 60, duration: 2s}]}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 12, stddev: 3}}
output: {dir: "$work/results", formats: [json, png]}
YAML
"$controller" run --config "$work/run.yaml" --quiet >"$work/run.out" 2>&1 ||
  fail "run: $(cat "$work/run.out")"
dir=$(ls -d "$work"/results/plots-*/)
ls "$dir/plots"
/usr/bin/python3 - "$dir/plots" <<'PY' || fail "the plots are not all real pictures"
import os, sys
from PIL import Image
d = sys.argv[1]
want = ["ttft_distribution", "itl_distribution", "schedule_lag_distribution", "latency_percentiles",
        "throughput_over_time", "tokens_per_second_over_time", "errors_over_time", "latency_vs_rate"]
files = sorted(os.listdir(d))
bad = []
if files != sorted(w + ".png" for w in want):
    bad.append("plots/ has %s, want %s" % (files, sorted(w + ".png" for w in want)))
for name in want:
    path = os.path.join(d, name + ".png")
    if not os.path.exists(path):
        continue
    image = Image.open(path).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    size = os.path.getsize(path)
    print("%-30s %dx%d, %6d bytes, %5d colours" % (name, image.width, image.height, size, len(colours)))
    if size < 8000 or len(colours) < 16 or image.width < 800:
        bad.append("%s looks blank (%d bytes, %d colours)" % (name, size, len(colours)))
if bad:
    print("\n".join("FAIL: " + b for b in bad))
    sys.exit(1)
PY
grep -q "not written by this version.*png" "$dir/summary.json" && fail "png is still noted as not written"

# No gnuplot on PATH: refused before sending, exit 2, naming output.formats.
before=$(sim_served)
rc=0
PATH=/nonexistent "$controller" run --config "$work/run.yaml" --quiet >"$work/nognuplot.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "png without gnuplot: exit $rc, want 2: $(cat "$work/nognuplot.out")"
grep -q "output.formats: png, html and pdf need gnuplot" "$work/nognuplot.out" || fail "no message naming gnuplot"
[ "$(sim_served)" = "$before" ] || fail "requests were sent although the run was refused"
echo "png without gnuplot: refused, exit 2: $(grep -o "output.formats: png, html and pdf need gnuplot[^;]*" "$work/nognuplot.out")"
echo "plots test: ok"
