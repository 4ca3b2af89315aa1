#!/usr/bin/env bash
# Series of runs against bench-sim with a known knee: 4 sequences at once, TTFT 20 ms, ITL 10 ms,
# 20 output tokens, so one request holds a slot 210 ms and the sim completes at most
# 4 / 0.21 = 19.05 requests/s; beyond that requests queue and TTFT grows without bound.
#  - load.type sweep (6 runs): the table, series.json, each probe's own results, the
#    latency-vs-rate chart and series.html;
#  - load.type capacity with constant arrivals and a TTFT p99 SLO: the answer lies just below
#    the knee, every probe is printed, the bracket is within the resolution;
#  - a capacity search no rate can pass (TTFT p99 1 ms) exits 3 after halving the start 3 times;
#  - the same sweep through `serve`, a bench-worker and `submit`, its probes fetched.
# Usage: series_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: series_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }

start_sim "$work/sim.log" --model m --ttft 20ms --itl 10ms --max-num-seqs 4 --max-queue 100000
knee=$(python3 -c "print(4 / (0.020 + 19 * 0.010))")
common="target: {endpoint: \"http://127.0.0.1:$sim_port/v1/completions\", model: m}
prompts: {inputLength: {mean: 50, stddev: 0}, outputLength: {mean: 20, stddev: 0, min: 20, max: 20}}"

# ---- sweep ----
cat >"$work/sweep.yaml" <<YAML
benchmark: {name: sweep, duration: 3s}
$common
load: {type: sweep, arrival: constant, sweep: {points: 6, throughputConcurrency: 16}}
slo: {ttft: {p99: 100ms}}
output: {dir: "$work/results", formats: [json, png, html]}
YAML
"$controller" run --config "$work/sweep.yaml" >"$work/sweep.out" 2>"$work/sweep.err" ||
  fail "sweep: exit $?: $(cat "$work/sweep.out" "$work/sweep.err")"
cat "$work/sweep.out"
series=$(ls -d "$work"/results/sweep-*/)
/usr/bin/python3 - "$series" "$knee" "$work/sweep.out" <<'PY' || fail "the sweep's results are wrong"
import json, os, sys
from PIL import Image
d, knee, out = sys.argv[1], float(sys.argv[2]), open(sys.argv[3]).read()
s = json.load(open(os.path.join(d, "series.json")))
probes = s["probes"]
bad = []
roles = [p["role"] for p in probes]
if roles != ["synchronous", "throughput"] + ["rate"] * 4:
    bad.append("roles %s" % roles)
sync, thr = probes[0]["completed_rate"], probes[1]["completed_rate"]
# One user: a request every 210 ms; 16 in flight: the knee.
if not 4.0 < sync < 5.0:
    bad.append("synchronous completed %.2f req/s, want about 1/0.21 = 4.76" % sync)
if not 0.9 * knee < thr < 1.05 * knee:
    bad.append("throughput completed %.2f req/s, want about %.2f" % (thr, knee))
rates = [p["requested_rate"] for p in probes[2:]]
want = [sync + (thr - sync) * k / 5 for k in range(1, 5)]
if any(abs(r - w) > 1e-6 * w for r, w in zip(rates, want)):
    bad.append("rates %s, want %s" % (rates, want))
for p in probes:
    summary = json.load(open(os.path.join(d, p["results"], "summary.json")))
    if abs(summary["throughput"]["requests_per_s"] - p["completed_rate"]) > 1e-9:
        bad.append("probe %d: series.json says %s req/s, its summary %s" % (
            p["index"], p["completed_rate"], summary["throughput"]["requests_per_s"]))
    if p["role"] == "rate" and abs(summary["rates"]["requested_rate"] - p["requested_rate"]) > 1e-6:
        bad.append("probe %d ran at %s req/s, not %s" % (
            p["index"], summary["rates"]["requested_rate"], p["requested_rate"]))
    if p["index"] > 1 and p["failed"] != 0:
        bad.append("probe %d: %d failed" % (p["index"], p["failed"]))
for row in range(1, 7):
    if not any(line.split()[:1] == [str(row)] for line in out.splitlines()):
        bad.append("the table has no row %d" % row)
if "sweep: 6 runs" not in out or "results: " not in out:
    bad.append("no verdict or results line")
for name in ("latency_vs_rate", "tokens_vs_rate"):
    path = os.path.join(d, "plots", name + ".png")
    if not os.path.exists(path):
        bad.append("no plots/%s.png" % name)
        continue
    image = Image.open(path).convert("RGB")
    colours = len(image.getcolors(maxcolors=1 << 20) or [])
    print("plots/%s.png: %dx%d, %d colours" % (name, image.width, image.height, colours))
    if colours < 16 or image.width < 800:
        bad.append("plots/%s.png looks blank" % name)
html = open(os.path.join(d, "series.html")).read()
if html.count("data:image/svg+xml") != 2 or html.count("<tr>") < 7:
    bad.append("series.html lacks its charts or rows")
print("sweep: synchronous %.2f req/s, throughput %.2f req/s (knee %.2f), rates %s" % (
    sync, thr, knee, ", ".join("%.2f" % r for r in rates)))
if bad:
    print("\n".join("FAIL: " + b for b in bad))
    sys.exit(1)
PY

# ---- capacity ----
cat >"$work/capacity.yaml" <<YAML
benchmark: {name: capacity, duration: 3s}
$common
load: {type: capacity, arrival: constant, capacity: {start: 8, resolution: 10%, minRequests: 40}}
slo: {ttft: {p99: 100ms}}
output: {dir: "$work/results", formats: [json]}
YAML
"$controller" run --config "$work/capacity.yaml" >"$work/capacity.out" 2>"$work/capacity.err" ||
  fail "capacity: exit $?: $(cat "$work/capacity.out" "$work/capacity.err")"
cat "$work/capacity.out"
series=$(ls -d "$work"/results/capacity-*/)
/usr/bin/python3 - "$series" "$knee" "$work/capacity.out" <<'PY' || fail "the capacity search is wrong"
import json, os, sys
d, knee, out = sys.argv[1], float(sys.argv[2]), open(sys.argv[3]).read()
s = json.load(open(os.path.join(d, "series.json")))
answer, probes = s["answer"], s["probes"]
bad = []
if not 0.8 * knee <= answer["rate"] <= 1.02 * knee:
    bad.append("capacity %.2f req/s, want within [0.8, 1.02] x the knee %.2f" % (answer["rate"], knee))
if not answer["resolution_reached"] or answer["failing_rate"] - answer["rate"] > 0.1 * answer["rate"]:
    bad.append("the bracket [%s, %s] is not within 10%%" % (answer["rate"], answer["failing_rate"]))
passed = [p["requested_rate"] for p in probes if p["slo_passed"]]
missed = [p["requested_rate"] for p in probes if p["slo_passed"] is False]
if max(passed) >= min(missed):
    bad.append("a probe passed at %s above one that missed at %s" % (max(passed), min(missed)))
for p in probes:
    if "probe %d: sent" % p["index"] not in open(sys.argv[3]).read() + open(sys.argv[3].replace(".out", ".err")).read():
        bad.append("probe %d was not printed" % p["index"])
    if p["duration_s"] * p["requested_rate"] < 39:
        bad.append("probe %d lasted %s s at %s req/s, fewer than minRequests" % (
            p["index"], p["duration_s"], p["requested_rate"]))
if ("capacity: %s req/s" % ("%.4g" % answer["rate"])) not in out:
    bad.append("the verdict does not state the answer")
print("capacity: %.2f req/s (knee %.2f), %.2f missed; probes %s" % (
    answer["rate"], knee, answer["failing_rate"],
    ", ".join("%.4g%s" % (p["requested_rate"], "+" if p["slo_passed"] else "-") for p in probes)))
if bad:
    print("\n".join("FAIL: " + b for b in bad))
    sys.exit(1)
PY

# ---- no rate meets the SLO: exit 3 after start, start/2, /4, /8 ----
rc=0
"$controller" run --config "$work/capacity.yaml" --set 'slo.ttft.p99=1ms' \
  --set load.capacity.minRequests=5 --set benchmark.duration=1s --quiet \
  >"$work/none.out" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "an unreachable SLO: exit $rc, want 3: $(cat "$work/none.out")"
grep -q "capacity: no rate probed met every SLO" "$work/none.out" || fail "no verdict: $(cat "$work/none.out")"
probes=$(grep -c "^  *[0-9] rate" "$work/none.out" || true)
[ "$probes" -eq 4 ] || fail "$probes probes, want 4 (8, 4, 2, 1 req/s): $(cat "$work/none.out")"
echo "unreachable SLO: exit 3 after 4 probes: $(grep -o 'capacity: no rate[^;]*' "$work/none.out")"

# ---- through a daemon: submit drives the series, the daemon runs each probe ----
start_dev_cluster
rc=0
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/sweep.yaml" \
  --set load.sweep.points=3 --set benchmark.duration=2s --set 'output.formats=[json]' \
  --output "$work/client" >"$work/submit.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "submit of a sweep: exit $rc: $(cat "$work/submit.out")"
series=$(ls -d "$work"/client/sweep-*/)
json "$series/series.json" "len(d['probes'])" | grep -qx 3 || fail "submit: not 3 probes"
for results in $(json "$series/series.json" "' '.join(p['results'] for p in d['probes'])"); do
  [ -f "$series/$results/summary.json" ] || fail "submit: probe results $results not fetched"
done
echo "submit: $(grep -o 'sweep: 3 runs[^;]*' "$work/submit.out")"
# A series cannot detach: this command drives it.
rc=0
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/sweep.yaml" \
  --detach >"$work/detach.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "cannot detach" "$work/detach.out" || fail "submit --detach of a sweep: exit $rc: $(cat "$work/detach.out")"
echo "series test: ok"
