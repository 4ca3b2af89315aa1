#!/usr/bin/env bash
# output.formats: llmd writes benchmark_report.yaml in llm-d's schema v0.2: one document per
# stage, every field llm-d requires, its units, and figures that agree with summary.json.
# Usage: llmd_report_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: llmd_report_test.sh BUILD_DIR}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 12ms --itl 4ms
cat >"$work/run.yaml" <<YAML
benchmark: {name: llmd, warmup: 1s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: stages, stages: [{rate: 10, duration: 2s}, {rate: 20, duration: 2s}], concurrency: 64}
prompts: {inputLength: {mean: 40, stddev: 6, min: 10, max: 80}, outputLength: {mean: 10, stddev: 0}}
output: {dir: "$work/results", formats: [json, llmd]}
YAML
"$build/controller/bench-controller" run --config "$work/run.yaml" --quiet >"$work/run.out" 2>&1 ||
  fail "run: $(cat "$work/run.out")"
dir=$(ls -d "$work"/results/llmd-*/)
grep -q "not written by this version" "$dir/summary.json" && fail "llmd is still noted as not written"
/usr/bin/python3 - "$dir" <<'PY' || fail "benchmark_report.yaml does not match llm-d's v0.2 or summary.json"
import json, sys, yaml
d = sys.argv[1]
summary = json.load(open(d + "/summary.json"))
docs = [x for x in yaml.safe_load_all(open(d + "/benchmark_report.yaml")) if x]
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
check(len(docs) == len(summary["stages"]) == 2, "one report per stage")
STATS = ["units", "mean", "stddev", "min", "p0p1", "p1", "p5", "p10", "p25", "p50", "p75", "p90",
         "p95", "p99", "p99p9", "max"]
LATENCY = {"time_to_first_token": ("s", "ttft"), "request_latency": ("s", "e2e_latency"),
           "time_per_output_token": ("s/token", "tpot"),
           "inter_token_latency": ("s/token", "itl"),
           "normalized_time_per_output_token": ("s/token", "ntpot")}
eids = set()
for i, (doc, stage) in enumerate(zip(docs, summary["stages"])):
    check(doc["version"] == "0.2", "version")
    run = doc["run"]
    for key in ("uid", "eid", "time"):
        check(key in run, "run." + key)
    check(run["time"]["duration"].startswith("PT") and run["time"]["duration"].endswith("S"), "duration")
    eids.add(run["eid"])
    std = doc["scenario"]["load"]["standardized"]
    for key in ("tool", "tool_version", "source", "input_seq_len"):
        check(key in std, "scenario.load.standardized." + key)
    check(std["stage"] == i, "stage index")
    check(std["rate_qps"] == stage["rate"], "rate_qps is the stage's rate")
    check(std["concurrency"] == 64, "concurrency")
    check(std["input_seq_len"] == {"distribution": "gaussian", "value": 40, "std_dev": 6, "min": 10, "max": 80}, "input_seq_len")
    check(std["output_seq_len"]["distribution"] == "fixed", "output_seq_len fixed")
    check(doc["scenario"]["load"]["metadata"]["cfg_id"] == summary["benchmark"]["config_sha256"], "cfg_id")
    agg = doc["results"]["request_performance"]["aggregate"]
    check(agg["requests"]["total"] == stage["requests"]["in_window"], "requests.total")
    check(agg["requests"]["failures"] == stage["requests"]["failed"], "requests.failures")
    check(agg["requests"]["input_length"]["units"] == "count", "input_length units")
    for name, (units, metric) in LATENCY.items():
        stats = agg["latency"][name]
        check(stats["units"] == units, name + " units")
        check(all(k in stats for k in STATS), name + " has every Statistics field")
        for p in ("50", "90", "99"):
            ms = stage["latency"][metric]["percentiles"]["p" + p]
            check(abs(stats["p" + p] * 1000 - ms) < 0.0015, "%s p%s %s s vs %s ms" % (name, p, stats["p" + p], ms))
        check(abs(stats["max"] * 1000 - stage["latency"][metric]["max_ms"]) < 0.0015, name + " max")
    thr = agg["throughput"]
    check(thr["request_rate"]["units"] == "queries/s", "request_rate units")
    check(abs(thr["request_rate"]["mean"] - stage["throughput"]["requests_per_s"]) < 1e-6, "request_rate")
    for name in ("input_token_rate", "output_token_rate", "total_token_rate"):
        check(thr[name]["units"] == "tokens/s", name + " units")
    check(abs(thr["output_token_rate"]["mean"] - stage["throughput"]["output_tokens_per_s"]) < 1e-6, "output_token_rate")
check(len(eids) == 1, "the stages share one experiment id")
if problems:
    print("\n".join("FAIL: " + p for p in problems))
    sys.exit(1)
print("benchmark_report.yaml: %d stage reports, v0.2 fields and units, TTFT p99 %.4f s / %.4f s, request rate %.2f / %.2f q/s: as summary.json" % (
    len(docs), docs[0]["results"]["request_performance"]["aggregate"]["latency"]["time_to_first_token"]["p99"],
    docs[1]["results"]["request_performance"]["aggregate"]["latency"]["time_to_first_token"]["p99"],
    docs[0]["results"]["request_performance"]["aggregate"]["throughput"]["request_rate"]["mean"],
    docs[1]["results"]["request_performance"]["aggregate"]["throughput"]["request_rate"]["mean"]))
PY
echo "llm-d report test: ok"
