#!/usr/bin/env bash
# The controller's /metrics read by a real Prometheus server (Debian's 2.42): bench-sim,
# `bench-controller serve --metrics-listen`, one bench-worker and prometheus scraping every
# second, all on loopback with OS-assigned ports. Checks /healthz, /readyz and an unknown path,
# then submits an 8 s constant-rate run and waits (at most 20 s) until Prometheus's
# sum(llmd_bench_requests_total) equals the run's requests.in_window from summary.json.
# Exits 77 (ctest: skipped) when the prometheus binary is missing.
# Usage: prometheus_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: prometheus_test.sh BUILD_DIR}
if ! command -v prometheus >/dev/null 2>&1; then
  echo "SKIP: no prometheus binary (apt-get install prometheus, or scripts/setup.sh)"
  exit 77
fi
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

# http_status URL: the status code only.
http_status() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

# promql QUERY: the value of an instant query's first sample, "" when there is none.
promql() {
  curl -s --get --data-urlencode "query=$1" "http://127.0.0.1:$prom_port/api/v1/query" |
    python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}

start_sim "$work/sim.log" --model m --ttft 20ms --itl 5ms

"$controller" serve --insecure --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --allow-target 127.0.0.1/32 --results-dir "$work/server-results" >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/serve.log" "serve: listening on") || fail "serve did not start"
metrics_port=$(wait_port "$work/serve.log" "metrics: listening on") || fail "no metrics line"
echo "sim on $sim_port, controller on $port, metrics on $metrics_port"

# --- the endpoint itself ---------------------------------------------------------------------
[ "$(curl -s "http://127.0.0.1:$metrics_port/healthz")" = "ok" ] || fail "/healthz is not ok"
[ "$(http_status "http://127.0.0.1:$metrics_port/readyz")" = 200 ] || fail "/readyz is not 200"
[ "$(http_status "http://127.0.0.1:$metrics_port/nope")" = 404 ] || fail "/nope is not 404"
curl -s "http://127.0.0.1:$metrics_port/metrics" >"$work/scrape0.txt"
grep -q '^# TYPE llmd_bench_requests_total counter$' "$work/scrape0.txt" ||
  fail "no requests_total counter: $(head -20 "$work/scrape0.txt")"

"$worker" --controller "127.0.0.1:$port" --insecure --threads 1 --name w1 \
  >"$work/worker.log" 2>&1 &
pids+=($!)

# --- Prometheus, on a port that was free a moment ago (retried if another process took it) ----
cat >"$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: bench-controller
    static_configs: [{targets: ["127.0.0.1:$metrics_port"]}]
YAML
start_prometheus "$work/prometheus.yml"
echo "prometheus on $prom_port"

# --- a run, and its total as Prometheus stored it ----------------------------------------------
cat >"$work/prom.yaml" <<YAML
benchmark: {name: prom, duration: 8}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: constant, rate: 10}
output: {formats: [json]}
YAML
rc=0
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/prom.yaml" --no-preflight \
  --output "$work/client-results" >"$work/submit.out" 2>"$work/submit.log" || rc=$?
cat "$work/submit.out"
[ "$rc" -eq 0 ] || fail "submit exit $rc"
results=$(sed -n 's/^results: //p' "$work/submit.out")
[ -f "$results/summary.json" ] || fail "no summary.json fetched"
in_window=$(json "$results/summary.json" "d['requests']['in_window']")
[ "$in_window" -gt 0 ] || fail "the run sent no requests"

# Until a scrape after the run's end is stored: the totals include the running run, so they can
# be complete a scrape before the run is counted as finished.
seen=""
finished=""
for _ in $(seq 40); do  # 20 s
  seen=$(promql 'sum(llmd_bench_requests_total)')
  finished=$(promql 'llmd_bench_runs_finished_total{state="done"}')
  [ -n "$seen" ] && [ "$seen" = "$in_window" ] && [ "$finished" = 1 ] && break
  sleep 0.5
done
echo "summary.json: $in_window requests in window; Prometheus: sum(llmd_bench_requests_total) = ${seen:-none}"
[ "$seen" = "$in_window" ] || fail "Prometheus has ${seen:-no value}, want $in_window"

[ "$(promql 'up{job="bench-controller"}')" = 1 ] || fail "the scrape target is not up"
[ "$(promql 'llmd_bench_workers_connected')" = 1 ] || fail "workers_connected is not 1"
[ "$(promql 'llmd_bench_runs_finished_total{state="done"}')" = 1 ] || fail "runs_finished not 1"
succeeded=$(json "$results/summary.json" "d['requests']['succeeded']")
[ "$(promql 'llmd_bench_ttft_seconds_count')" = "$succeeded" ] ||
  fail "ttft_seconds_count is not the $succeeded successes"
echo "PASS"
