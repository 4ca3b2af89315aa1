#!/usr/bin/env bash
# The README's first command: sets up the machine, builds, starts a local bench-sim (a
# vLLM-like simulator: no GPU needed), runs a real benchmark against it with
# `bench-controller run`, and shows the summary and where the results went.
# Usage: scripts/quickstart.sh [config.yaml]   (default deploy/examples/quickstart.yaml)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
config=${1:-deploy/examples/quickstart.yaml}

bash scripts/setup.sh
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target bench-controller bench-sim

# A simulated model server: prefill 0.2 ms/token + 20 ms overhead, 15 ms between tokens.
sim_log=$(mktemp)
build/sim/bench-sim --listen 127.0.0.1:0 --model sim-model --prefill-overhead 20ms \
  --prefill-per-token 200us --itl 15ms --itl-jitter 2ms --max-num-seqs 64 >"$sim_log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; rm -f "$sim_log"' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$sim_log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$sim_log"; echo "bench-sim did not start"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$sim_log"; echo "bench-sim did not say its port"; exit 1; }
echo "== bench-sim (pid $sim_pid) on 127.0.0.1:$port"
echo "== bench-controller run --config $config"
status=0
build/controller/bench-controller run --config "$config" \
  --endpoint "http://127.0.0.1:$port/v1/chat/completions" || status=$?
latest=$(ls -td results/*/ 2>/dev/null | head -1)
if [ -n "$latest" ]; then
  echo "== results in $latest:"
  (cd "$latest" && find . -type f | sort | sed 's|^\./|   |')
fi
if [ -n "$latest" ] && [ -f "$latest/report.html" ]; then
  echo "== the report (self-contained, opens offline): file://$(cd "$latest" && pwd)/report.html"
  echo "   rebuild it, or as pdf, md, csv: build/controller/bench-controller report --input $latest --format pdf"
fi
echo "== exit code $status (0 ok, 3 an SLO failed; summary.json, report.html and the rest above)"
exit "$status"
