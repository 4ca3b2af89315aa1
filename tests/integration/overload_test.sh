#!/usr/bin/env bash
# Headline figures that stay true under overload. bench-sim with 8 slots: a closed loop of 8
# users measures its service rate; an open loop offered twice that rate must report the service
# rate as its throughput (within 5%), the offered rate apart, a long drain and a target-behind
# warning; an open loop at half the rate reports what it offered and no warning.
# Usage: overload_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: overload_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

# 20 output tokens each: 20 ms to the first, 10 ms per further token: 210 ms a request per slot.
start_sim "$work/sim.log" --model m --ttft 20ms --itl 10ms --max-num-seqs 8
config() {  # config NAME LOAD
  cat <<YAML
benchmark: {name: $1, warmup: 2s, duration: 6s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m, extraBody: {ignore_eos: true}}
load: $2
prompts: {inputLength: {mean: 20, stddev: 0}, outputLength: {mean: 20, stddev: 0}}
output: {dir: "$work/results", formats: [json]}
YAML
}
run() {  # run NAME LOAD: the summary.json path
  config "$1" "$2" >"$work/$1.yaml"
  "$controller" run --config "$work/$1.yaml" --quiet >"$work/$1.out" 2>&1 ||
    fail "$1: exit $? $(cat "$work/$1.out")"
  echo "$(ls -d "$work"/results/"$1"-*/)summary.json"
}

# --- the service rate: 8 users keep the 8 slots busy, never queued ------------------------------
summary=$(run capacity '{type: concurrency, concurrency: 8}')
capacity=$(json "$summary" "d['throughput']['requests_per_s']")
echo "service rate (closed loop of 8): $capacity req/s (8 slots / 210 ms = 38.1)"
python3 -c "import sys; sys.exit(0 if 33 < $capacity < 40 else 1)" ||
  fail "the closed loop measured $capacity req/s, not near 38.1"

# --- offered twice the capacity --------------------------------------------------------------------
offered=$(python3 -c "print(round(2 * $capacity, 1))")
summary=$(run overload "{type: constant, rate: $offered, concurrency: 2000}")
cat "$work/overload.out"
headline=$(json "$summary" "d['throughput']['requests_per_s']")
sent=$(json "$summary" "d['throughput']['offered_requests_per_s']")
drain=$(json "$summary" "d['throughput']['drain_s']")
echo "overload: offered $offered req/s, sent $sent req/s, headline $headline req/s," \
  "service rate $capacity req/s, drain $drain s"
python3 -c "import sys; sys.exit(0 if abs($headline - $capacity) <= 0.05 * $capacity else 1)" ||
  fail "headline $headline req/s is not within 5% of the service rate $capacity"
python3 -c "import sys; sys.exit(0 if abs($sent - $offered) <= 0.05 * $offered else 1)" ||
  fail "offered rate $sent req/s is not the $offered requested"
python3 -c "import sys; sys.exit(0 if $drain > 3 else 1)" || fail "drain $drain s: no queue seen"
[ "$(json "$summary" "d['throughput']['target_behind']")" = True ] || fail "target_behind is false"
[ "$(json "$summary" "[w['code'] for w in d['warnings']].count('target-behind')")" = 1 ] ||
  fail "no target-behind warning"
grep -q "req/s completed in the window" "$work/overload.out" || fail "the table does not say completed"
grep -q "^offered .* req/s sent" "$work/overload.out" || fail "the table does not show the offered rate"

# --- half the capacity: it keeps up ---------------------------------------------------------------
half=$(python3 -c "print(round($capacity / 2, 1))")
summary=$(run steady "{type: constant, rate: $half, concurrency: 2000}")
headline=$(json "$summary" "d['throughput']['requests_per_s']")
drain=$(json "$summary" "d['throughput']['drain_s']")
python3 -c "import sys; sys.exit(0 if abs($headline - $half) <= 0.05 * $half else 1)" ||
  fail "steady: headline $headline req/s, offered $half"
[ "$(json "$summary" "d['throughput']['target_behind']")" = False ] ||
  fail "steady: target_behind at half the capacity"
echo "steady: offered $half req/s, headline $headline req/s, drain $drain s, no warning"
echo "overload test: ok"
