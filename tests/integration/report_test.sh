#!/usr/bin/env bash
# The reports people read: a stages run against bench-sim with output.formats [json, html, png,
# pdf, md, csv, llmd] writes every file of the results directory; report.html opened in headless
# Chromium offline renders every chart with no console error and shows summary.json's figures
# (report_check.js, screenshot kept in BUILD_DIR/test-artifacts); report.pdf converts to page
# images; md, csv and json agree with summary.json; `report --input DIR` rebuilds them, also
# from a cancelled run's partial results and from a directory without metrics.json; pdf without
# Chromium is refused before anything is sent.
# Usage: report_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: report_test.sh BUILD_DIR SOURCE_DIR}
source_dir=${2:?usage: report_test.sh BUILD_DIR SOURCE_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
for tool in gnuplot chromium pdftoppm node; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -d "$source_dir/tests/node/node_modules/puppeteer-core" ] ||
  { echo "SKIP: puppeteer-core is not installed (scripts/setup.sh)"; exit 77; }
export NODE_PATH=$source_dir/tests/node/node_modules
artifacts=$build/test-artifacts
mkdir -p "$artifacts"

start_sim "$work/sim.log" --model m --ttft 15ms --itl 3ms --itl-jitter 1ms --max-num-seqs 16
cat >"$work/run.yaml" <<YAML
benchmark: {name: report, warmup: 1s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: stages, stages: [{rate: 10, duration: 2s}, {rate: 30, duration: 2s}, {rate: 60, duration: 2s}]}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 12, stddev: 3}}
metrics: {collect: [ttft, itl, e2e_latency, throughput, tokens_per_second, errors]}
slo: {ttft: {p99: 2s}}
output: {dir: "$work/results", formats: [json, html, png, pdf, md, csv, llmd]}
YAML
"$controller" run --config "$work/run.yaml" --quiet >"$work/run.out" 2>&1 ||
  fail "run: $(cat "$work/run.out")"
dir=$(ls -d "$work"/results/report-*/)
for file in config.yaml summary.json metrics.json histograms.hlog benchmark_report.yaml \
  report.html report.pdf report.md report.csv plots/ttft_distribution.png; do
  [ -s "$dir/$file" ] || fail "$file was not written"
done
grep -q "not written by this version" "$dir/summary.json" && fail "a format is still noted as not written"
echo "results: $(cd "$dir" && find . -type f | sort | tr '\n' ' ')"

# report.html, as a reader opens it: offline, from the file.
node "$(dirname "$0")/report_check.js" "$dir" "$artifacts/report.png" || fail "report.html check"
[ -s "$artifacts/report.png" ] || fail "no screenshot"
grep -Eq 'https?://[^"]*\.(js|css)|<script src|<link[^>]*stylesheet' "$dir/report.html" &&
  fail "report.html loads something from elsewhere"

# report.pdf: page images that are not blank.
pdftoppm -r 40 -png "$dir/report.pdf" "$work/page"
/usr/bin/python3 - "$work" <<'PY' || fail "the PDF's pages are blank"
import glob, sys
from PIL import Image
pages = sorted(glob.glob(sys.argv[1] + "/page-*.png"))
colours = [len(Image.open(p).convert("RGB").getcolors(maxcolors=1 << 20) or []) for p in pages]
print("report.pdf: %d pages, colours per page %s" % (len(pages), colours))
sys.exit(0 if len(pages) >= 2 and min(colours) > 1 and max(colours) > 50 else 1)
PY

# md, csv and json against summary.json.
/usr/bin/python3 - "$dir" <<'PY' || fail "md, csv or json disagree with summary.json"
import csv, json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json"))
def printed(v):
    return str(v) if isinstance(v, int) else ("%.3f" % v).rstrip("0").rstrip(".")
bad = []
md = open(d + "/report.md").read()
ttft = s["latency"]["ttft"]["percentiles"]
row = "| ttft | %d |" % s["latency"]["ttft"]["count"]
if row not in md or printed(ttft["p99"]) not in md:
    bad.append("report.md has no ttft row with p99 %s" % ttft["p99"])
if "| tpot |" in md:
    bad.append("report.md shows tpot, which metrics.collect leaves out")
rows = list(csv.DictReader(open(d + "/report.csv")))
scopes = sorted({r["scope"] for r in rows})
if scopes != ["overall", "stage 1", "stage 2", "stage 3"]:
    bad.append("report.csv scopes %s" % scopes)
for r in rows:
    block = s if r["scope"] == "overall" else s["stages"][int(r["scope"].split()[1]) - 1]
    want = block["latency"][r["metric"]]["percentiles"]["p99"]
    if r["p99_ms"] != printed(want):
        bad.append("report.csv %s %s p99 %s, summary %s" % (r["scope"], r["metric"], r["p99_ms"], want))
print("report.md: ttft row, p99 %s; report.csv: %d rows over %s" % (printed(ttft["p99"]), len(rows), scopes))
if bad:
    print("\n".join("FAIL: " + b for b in bad))
    sys.exit(1)
PY
"$controller" report --input "$dir" --format json --output - >"$work/report.json" ||
  fail "report --format json"
[ "$(json "$work/report.json" "d['latency_ms']['itl']['p99']")" = \
  "$(json "$dir/summary.json" "d['latency']['itl']['percentiles']['p99']")" ] ||
  fail "report.json's itl p99 differs from summary.json"

# report --input rebuilds the HTML from the files alone.
rm "$dir/report.html"
out=$("$controller" report --input "$dir") || fail "report --input: $out"
[ "$out" = "${dir%/}/report.html" ] || [ "$out" = "$dir/report.html" ] || fail "report said '$out'"
node "$(dirname "$0")/report_check.js" "$dir" "$work/rebuilt.png" || fail "rebuilt report.html"

# A cancelled run (Ctrl-C) keeps partial results; the report is built from them afterwards.
cat >"$work/long.yaml" <<YAML
benchmark: {name: cancelled, warmup: 0s, duration: 60s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: constant, rate: 20}
prompts: {inputLength: {mean: 30, stddev: 5}, outputLength: {mean: 12, stddev: 3}}
output: {dir: "$work/partial", formats: [json]}
YAML
"$controller" run --config "$work/long.yaml" --quiet >"$work/long.out" 2>&1 &
run_pid=$!
pids+=("$run_pid")
for _ in $(seq 200); do
  [ -n "$(ls "$work"/partial/cancelled-*/metrics.json 2>/dev/null)" ] && break
  sleep 0.05
done
partial=$(ls -d "$work"/partial/cancelled-*/ 2>/dev/null) || fail "no partial results were flushed"
# The first flush comes after one interval; wait for a second one so that charts have a series.
for _ in $(seq 200); do
  [ "$(json "$partial/metrics.json" "len(d['series'])")" -ge 3 ] && break
  sleep 0.05
done
kill -INT "$run_pid"
rc=0
wait "$run_pid" || rc=$?
[ "$rc" -eq 5 ] || fail "Ctrl-C: exit $rc, want 5: $(cat "$work/long.out")"
[ "$(json "$partial/summary.json" "d['benchmark']['cancelled']")" = True ] || fail "not marked cancelled"
"$controller" report --input "$partial" >/dev/null || fail "report on the cancelled run"
node "$(dirname "$0")/report_check.js" "$partial" "$work/partial.png" || fail "cancelled run's report"

# Without metrics.json (only summary.json copied): the report says what was absent.
mkdir "$work/bare"
cp "$dir/summary.json" "$work/bare/"
"$controller" report --input "$work/bare" --format html >/dev/null || fail "report without metrics.json"
grep -q "absent: metrics.json, config.yaml" "$work/bare/report.html" || fail "absent files not named"

# A results directory from someone else, with a hostile prometheus.json: a label that tries to
# leave gnuplot's quotes and a query name that is not a name. Nothing runs; the chart is drawn.
mkdir "$work/hostile"
cp "$dir/summary.json" "$dir/metrics.json" "$work/hostile/"
cat >"$work/hostile/prometheus.json" <<JSON
{"start": 0, "queries": [
  {"name": "up", "series": [{"metric": {"job": "x'\n!touch $work/PWNED\nprint '"},
                             "values": [[1, 1], [2, 2], [3, 1]]}]},
  {"name": "x'; system(\"touch $work/PWNED2\"); #", "series": [{"values": [[1, 1], [2, 2]]}]}]}
JSON
"$controller" report --input "$work/hostile" >"$work/hostile.out" 2>&1 ||
  fail "report on a hostile prometheus.json: $(cat "$work/hostile.out")"
[ ! -e "$work/PWNED" ] && [ ! -e "$work/PWNED2" ] || fail "a label in prometheus.json ran a command"
grep -q 'id="chart-prometheus_up"' "$work/hostile/report.html" || fail "the hostile run lost its chart"
echo "hostile prometheus.json: no command ran, chart drawn"

# Not a results directory: exit 2 naming summary.json.
rc=0
"$controller" report --input "$work" >"$work/notdir.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "no summary.json" "$work/notdir.out" ||
  fail "report on a non-results directory: exit $rc: $(cat "$work/notdir.out")"

# pdf without Chromium on PATH (gnuplot still there): refused before sending, exit 2.
mkdir "$work/bin"
ln -s "$(command -v gnuplot)" "$work/bin/gnuplot"
before=$(sim_served)
rc=0
PATH=$work/bin "$controller" run --config "$work/run.yaml" --quiet >"$work/nochromium.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "pdf without Chromium: exit $rc, want 2: $(cat "$work/nochromium.out")"
grep -q "output.formats: pdf is printed by headless Chromium" "$work/nochromium.out" ||
  fail "no message naming Chromium: $(cat "$work/nochromium.out")"
[ "$(sim_served)" = "$before" ] || fail "requests were sent although the run was refused"
echo "pdf without Chromium: refused, exit 2"
echo "report test: ok"
