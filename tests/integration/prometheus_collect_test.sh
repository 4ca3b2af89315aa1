#!/usr/bin/env bash
# metrics.prometheus: a real Prometheus scrapes bench-sim (prefix cache on) every second during a
# run; the results hold the series of vllm:num_requests_running (prometheus.json and a chart)
# and the prefix cache hit ratio from vLLM's counters, which agrees with the ratio the responses'
# cached-token counts give. That run asks for every output format and metrics.raw: its
# directory holds every file of the results layout, and summary.json and metrics.json match
# their schemas. A run pointed at a Prometheus that is not there still succeeds, with
# a warning. Exits 77 (ctest: skipped) without the prometheus binary.
# Usage: prometheus_collect_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: prometheus_collect_test.sh BUILD_DIR SOURCE_DIR}
source_dir=${2:?usage: prometheus_collect_test.sh BUILD_DIR SOURCE_DIR}
command -v prometheus >/dev/null 2>&1 || { echo "SKIP: no prometheus binary"; exit 77; }
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 20ms --itl 5ms --max-num-seqs 8 \
  --kv-cache-blocks 4096 --block-size 16 --prefill-per-token 50us
cat >"$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: bench-sim
    static_configs: [{targets: ["127.0.0.1:$sim_port"]}]
YAML
start_prometheus "$work/prometheus.yml"
# Until Prometheus has scraped the sim once: the counters need a sample before the run.
for _ in $(seq 100); do
  up=$(curl -s "http://127.0.0.1:$prom_port/api/v1/query?query=up" | python3 -c \
    'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")')
  [ "$up" = 1 ] && break
  sleep 0.2
done
[ "$up" = 1 ] || fail "prometheus did not scrape bench-sim"

config() {  # config NAME ENDPOINT
  cat <<YAML
benchmark: {name: $1, warmup: 1s, duration: 6s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: constant, rate: 20}
prompts: {inputLength: {mean: 256, stddev: 0}, outputLength: {mean: 16, stddev: 0}, prefixRatio: 0.5, prefixGroups: 2}
metrics:
  raw: true
  prometheus:
    endpoint: "$2"
    step: 1s
output: {dir: "$work/results", formats: [$3]}
YAML
}
config prom "http://127.0.0.1:$prom_port" "json, html, png, pdf, md, csv, llmd" >"$work/prom.yaml"
"$controller" run --config "$work/prom.yaml" --quiet >"$work/prom.out" 2>&1 ||
  fail "run: $(cat "$work/prom.out")"
dir=$(ls -d "$work"/results/prom-*/)
# Every file of the results layout (controller/RESULTS.md).
for file in config.yaml summary.json metrics.json histograms.hlog requests.jsonl prometheus.json \
  benchmark_report.yaml report.html report.pdf report.md report.csv \
  plots/ttft_distribution.png plots/itl_distribution.png plots/throughput_over_time.png \
  plots/latency_percentiles.png plots/tokens_per_second_over_time.png \
  plots/errors_over_time.png plots/schedule_lag_distribution.png; do
  [ -s "$dir/$file" ] || fail "$file was not written"
done
echo "every file: $(cd "$dir" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"
/usr/bin/python3 "$(dirname "$0")/validate_results.py" "$source_dir/controller/schemas" "$dir" ||
  fail "summary.json or metrics.json does not match its schema"
python3 "$(dirname "$0")/check_requests_jsonl.py" "$dir" 1 || fail "requests.jsonl"
grep -q "Prometheus: num_requests_running" "$dir/report.html" || fail "report.html lacks the Prometheus chart"
# Prompts half shared prefix: the report's prefix-cache section counts requests that hit.
grep -Eq '^\| cache hit \(cached_tokens > 0\) \| [1-9][0-9]* \|' "$dir/report.md" ||
  fail "report.md has no prefix-cache section with hits: $(grep -A4 'Prefix cache' "$dir/report.md")"
[ -f "$dir/plots/prometheus_num_requests_running.png" ] || fail "no chart of num_requests_running"
/usr/bin/python3 - "$dir" <<'PY' || fail "prometheus.json or the hit ratio is wrong"
import json, sys
d = sys.argv[1]
prom = json.load(open(d + "/prometheus.json"))
summary = json.load(open(d + "/summary.json"))
queries = {q["name"]: q for q in prom["queries"]}
running = queries["num_requests_running"]
assert running["status"] == "ok", running
values = [float(v) for s in running["series"] for _, v in s["values"]]
assert len(values) >= 5, values
assert max(values) >= 1, values  # at 20 req/s and ~100 ms each, about 2 are running
cache = summary["cache"]
usage, counters = cache["hit_ratio"], prom["cache"]["hit_ratio"]
assert cache["source"] == "usage", cache
assert counters is not None and cache["hit_ratio_from_counters"] == counters, (cache, prom["cache"])
print("prometheus.json: num_requests_running %d samples, max %g; hit ratio from counters %.4f, from usage %.4f"
      % (len(values), max(values), counters, usage))
# The counters cover the sim's whole window (warmup stragglers included): agree within 0.05.
assert abs(counters - usage) < 0.05, (counters, usage)
assert not [w for w in summary["warnings"] if w["code"] == "prometheus-unavailable"], summary["warnings"]
PY

# Nobody at that address: the run still succeeds; a warning says what could not be read.
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
config dead "http://127.0.0.1:$dead" json >"$work/dead.yaml"
rc=0
"$controller" run --config "$work/dead.yaml" --quiet >"$work/dead.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "a dead Prometheus failed the run: exit $rc"
grep -q "WARNING    prometheus-unavailable" "$work/dead.out" || fail "no prometheus-unavailable warning"
echo "dead Prometheus: exit 0, $(grep -o 'prometheus-unavailable: .\{0,80\}' "$work/dead.out" | head -1)"
echo "prometheus collect test: ok"
