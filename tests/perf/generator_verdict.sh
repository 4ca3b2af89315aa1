#!/usr/bin/env bash
# The generator verdict on an idle and on a starved engine: the measurements the thresholds of
# the generator check come from (docs/metrics.md, "Is the generator, or the target, the limit?").
#   idle:    N Poisson runs at 20 req/s (default 10), `run` on its own core, bench-sim on another;
#            expected: no generator-limited warning.
#   starved: the same runs with `run` pinned to a core shared with a busy loop and niced to 19,
#            so it gets a sliver of that core; expected: a warning naming the rule.
# Prints, per run: schedule lag p50, p90, p99 (ms), the rules that tripped, and a tally.
# Usage: tests/perf/generator_verdict.sh [--runs N] [--duration 10s] [--rate 20] [build-dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=10
duration=10s
rate=20
build=${BENCH_BUILD_DIR:-$root/build}
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --duration) duration=${2:?}; shift ;;
    --rate) rate=${2:?}; shift ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) build=$1 ;;
  esac
  shift
done
controller=$build/controller/bench-controller
sim=$build/sim/bench-sim
[ -x "$controller" ] && [ -x "$sim" ] || { echo "build bench-controller and bench-sim first"; exit 1; }
read -r engine_core sim_core < <(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')

work=$(mktemp -d)
sim_pid=""
busy_pid=""
cleanup() {
  [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null || true
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

taskset -c "$sim_core" "$sim" --listen 127.0.0.1:0 --model sim-model --ttft 20ms --itl 5ms \
  --max-num-seqs 1000 >"$work/sim.log" 2>&1 &
sim_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/sim.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/sim.log"; echo "bench-sim did not start"; exit 1; }

cat >"$work/poisson.yaml" <<EOF
benchmark: {name: verdict, duration: $duration}
target: {endpoint: "http://127.0.0.1:$port/v1/completions", model: sim-model}
load: {type: poisson, rate: $rate}
prompts: {type: synthetic, inputLength: {mean: 100}, outputLength: {mean: 20}}
output: {dir: $work/results, formats: [json]}
EOF

# One run; prints its line and returns 0 when it warned generator-limited.
one_run() {
  local label=$1 seed=$2
  shift 2
  "$@" "$controller" run --config "$work/poisson.yaml" --quiet --set "benchmark.seed=$seed" \
    >"$work/out.txt" 2>&1 || true
  local summary
  summary=$(ls -td "$work"/results/*/ | head -1)summary.json
  python3 - "$summary" "$label" "$seed" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
lag = s["latency"]["schedule_lag"]["percentiles"]
g = s["generator"]
rules = "; ".join(g["rules"]) if g["rules"] else "-"
print(f"{sys.argv[2]:8} seed {sys.argv[3]:>2}  lag p50 {lag['p50']} p90 {lag['p90']} "
      f"p99 {lag['p99']} ms  warned {str(g['limited']).lower():5}  {rules}")
sys.exit(0 if g["limited"] else 1)
EOF
}

echo "== idle: $runs Poisson runs at $rate req/s, $duration each (engine core $engine_core, sim core $sim_core)"
idle_warned=0
for seed in $(seq "$runs"); do
  if one_run idle "$seed" taskset -c "$engine_core"; then idle_warned=$((idle_warned + 1)); fi
done

echo "== starved: the engine niced to 19 on core $engine_core beside a busy loop"
taskset -c "$engine_core" sh -c 'while :; do :; done' &
busy_pid=$!
starved_warned=0
for seed in $(seq "$runs"); do
  if one_run starved "$seed" taskset -c "$engine_core" nice -n 19; then
    starved_warned=$((starved_warned + 1))
  fi
done
echo "== idle runs that warned: $idle_warned of $runs; starved runs that warned: $starved_warned of $runs"
