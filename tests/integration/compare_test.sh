#!/usr/bin/env bash
# compare: two runs whose bench-sim ITL differs (10 ms vs 12 ms) flag the ITL regression and exit
# 3 with --fail-on-regression 10; two runs of one config against one sim report no regression
# (exit 0); --output writes a self-contained page with the overlaid distributions; bad input
# exits 2 naming what was wrong.
# Usage: compare_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: compare_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }

# run_against ITL_MS NAME: one 6 s run at 10 req/s against a fresh bench-sim with that ITL.
run_against() {
  start_sim "$work/sim-$2.log" --model m --ttft 20ms --itl "$1ms" --itl-jitter 1ms --max-num-seqs 64
  "$controller" run --endpoint "http://127.0.0.1:$sim_port/v1/completions" --model m --rate 10 \
    --duration 6 --set benchmark.warmup=1s --set benchmark.name="$2" \
    --set 'prompts.outputLength={mean: 32, stddev: 4}' --set output.dir="$work/results" \
    --set 'output.formats=[json]' --quiet >"$work/run-$2.out" 2>&1 || fail "run $2: $(cat "$work/run-$2.out")"
  # A second run of the same config against the same sim.
  if [ "${3:-}" = twice ]; then
    "$controller" run --endpoint "http://127.0.0.1:$sim_port/v1/completions" --model m --rate 10 \
      --duration 6 --set benchmark.warmup=1s --set benchmark.name="$2-again" \
      --set 'prompts.outputLength={mean: 32, stddev: 4}' --set output.dir="$work/results" \
      --set 'output.formats=[json]' --quiet >"$work/run-$2-again.out" 2>&1 || fail "run $2 again"
  fi
}
run_against 10 itl10 twice
run_against 12 itl12
base=$(ls -d "$work"/results/itl10-2*/ | head -1)
again=$(ls -d "$work"/results/itl10-again-*/)
slower=$(ls -d "$work"/results/itl12-*/)

rc=0
"$controller" compare "$base" "$slower" --fail-on-regression 10 --output "$work/compare.html" \
  >"$work/regressed.out" 2>"$work/regressed.err" || rc=$?
cat "$work/regressed.out"
[ "$rc" -eq 3 ] || fail "ITL 10 -> 12 ms: exit $rc, want 3: $(cat "$work/regressed.err")"
grep -E "^itl p50 \(ms\) .* \+(1[5-9]|2[0-5])\.[0-9]%  REGRESSION" "$work/regressed.out" >/dev/null ||
  fail "itl p50 is not flagged as a regression of about +20%"
grep -E "^ttft p50 \(ms\) .*  same" "$work/regressed.out" >/dev/null || fail "ttft p50 should be the same"
grep -q "regressions beyond 10% (--fail-on-regression): exit 3" "$work/regressed.err" ||
  fail "no exit-3 message: $(cat "$work/regressed.err")"
charts=$(grep -o '<figure class="chart"' "$work/compare.html" | wc -l)
[ "$charts" -eq 4 ] || fail "compare.html has $charts charts, want 4"
grep -q "data:image/svg+xml;base64," "$work/compare.html" || fail "compare.html charts are not inlined"

rc=0
"$controller" compare "$base" "$again" --fail-on-regression 10 >"$work/same.out" 2>&1 || rc=$?
cat "$work/same.out"
grep "verdict:" "$work/same.out"
[ "$rc" -eq 0 ] || fail "two runs of one config: exit $rc, want 0: $(cat "$work/same.out")"
grep -q "verdict: no regression" "$work/same.out" || fail "two runs of one config: a regression"

# --json for scripts: the ITL p50 change and its evidence.
"$controller" compare "$base" "$slower" --json >"$work/compare.json" || fail "compare --json"
/usr/bin/python3 - "$work/compare.json" <<'PY' || fail "compare --json"
import json, sys
d = json.load(open(sys.argv[1]))
c = {x["metric"]: x for x in d["candidates"][0]["changes"]}
itl = c["itl p50"]
assert itl["verdict"] == "REGRESSION" and itl["significant"], itl
assert 0.15 < itl["relative_change"] < 0.25, itl
assert "99% intervals" in itl["evidence"], itl
print("compare --json: itl p50 %+.1f%%, %s" % (100 * itl["relative_change"], itl["evidence"]))
PY

# Bad input: one directory, a directory that is not a results directory, a bad percentage.
for args in "$base" "$base $work" "$base $slower --fail-on-regression ten" \
  "$base $slower --labels a,b,c"; do
  rc=0
  # shellcheck disable=SC2086
  "$controller" compare $args >"$work/bad.out" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || fail "compare $args: exit $rc, want 2"
  echo "compare ${args//$work/WORK}: exit 2: $(head -1 "$work/bad.out")"
done
echo "compare test: ok"
