#!/usr/bin/env bash
# analysis/results.ipynb executed headless (jupyter nbconvert) on a fresh run with metrics.raw:
# every cell runs without error, and its own checks hold (requests.jsonl's counts equal
# summary.json's, the chunk gaps' median is the summary's ITL p50, the hlog decodes to the
# summary's percentiles); the figures are drawn.
# Usage: notebook_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: notebook_test.sh BUILD_DIR SOURCE_DIR}
source_dir=${2:?usage: notebook_test.sh BUILD_DIR SOURCE_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
command -v jupyter-nbconvert >/dev/null ||
  { echo "SKIP: jupyter-nbconvert is not installed (scripts/setup.sh)"; exit 77; }

start_sim "$work/sim.log" --model m --ttft 15ms --itl 3ms --itl-jitter 1ms --max-num-seqs 16
cat >"$work/run.yaml" <<YAML
benchmark: {name: notebook, warmup: 1s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: stages, stages: [{rate: 10, duration: 2s}, {rate: 30, duration: 2s}]}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 12, stddev: 3}}
metrics: {raw: true, rawTokenTimes: true}
output: {dir: "$work/results", formats: [json]}
YAML
"$controller" run --config "$work/run.yaml" --quiet >"$work/run.out" 2>&1 ||
  fail "run: $(cat "$work/run.out")"
dir=$(ls -d "$work"/results/notebook-*/)
python3 "$(dirname "$0")/check_requests_jsonl.py" "$dir" 1 || fail "requests.jsonl"

export PYDEVD_DISABLE_FILE_VALIDATION=1
LLMD_BENCH_RESULTS=$dir jupyter-nbconvert --to notebook --execute \
  --ExecutePreprocessor.timeout=120 "$source_dir/analysis/results.ipynb" \
  --output-dir "$work" --output executed >"$work/nbconvert.log" 2>&1 ||
  fail "the notebook failed: $(grep -v -i 'debugger\|frozen\|PYDEVD' "$work/nbconvert.log" | tail -20)"
/usr/bin/python3 - "$work/executed.ipynb" <<'PY' || fail "the executed notebook lacks its outputs"
import json, sys
nb = json.load(open(sys.argv[1]))
outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
errors = [o for o in outputs if o["output_type"] == "error"]
images = [o for o in outputs if "image/png" in o.get("data", {})]
text = "".join("".join(o.get("text", "")) for o in outputs)
print("notebook: %d code cells run, %d figures, %d errors" % (
    sum(c["cell_type"] == "code" for c in nb["cells"]), len(images), len(errors)))
# Series, requests and the ITL-by-position chart; the counts and gaps checked in the cells.
sys.exit(0 if not errors and len(images) >= 3 and "success" in text and "gaps from" in text else 1)
PY
echo "notebook test: ok"
