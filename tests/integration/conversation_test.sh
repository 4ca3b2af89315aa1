#!/usr/bin/env bash
# Multi-turn conversations against bench-sim: every turn sends the history (earlier turns and the
# sim's own replies), so with the sim's prefix cache later turns find their history cached and
# answer sooner than the same conversations against a sim without a cache; the summary has the
# figures per turn. A ShareGPT file's multi-turn records run turn by turn too.
# Usage: conversation_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: conversation_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

# Prefill costs 2 ms + 50 us per uncached prompt token; a turn's history grows by 300 + 20 tokens.
model=(--prefill-overhead 2ms --prefill-per-token 50us --itl 2ms)
start_sim "$work/cached.log" "${model[@]}" --kv-cache-blocks 100000
cached_port=$sim_port
start_sim "$work/plain.log" "${model[@]}"
plain_port=$sim_port

run_against() {  # NAME PORT: runs the conversation config, prints the results directory
  cat >"$work/$1.yaml" <<YAML
benchmark: {name: $1, duration: 4s}
target: {endpoint: "http://127.0.0.1:$2/v1/chat/completions", model: sim-model}
load: {type: concurrency, concurrency: 4}
prompts:
  type: conversation
  inputLength: {mean: 300, stddev: 0, min: 1, max: 1000}
  outputLength: {mean: 20, stddev: 0, min: 1, max: 100}
  conversation: {turns: 4, thinkTime: 50ms, sessionHeader: x-session-id}
metrics: {raw: true}
output: {dir: "$work/results", formats: [json]}
YAML
  "$controller" run --config "$work/$1.yaml" --quiet >"$work/$1.out" 2>"$work/$1.err" ||
    fail "$1: exit $?: $(cat "$work/$1.err")"
  ls -d "$work"/results/"$1"-*/
}
cached=$(run_against cached "$cached_port")
plain=$(run_against plain "$plain_port")
grep -A6 '^turn ' "$work/cached.out"

python3 - "$cached/summary.json" "$plain/summary.json" <<'PY' || fail "per-turn figures"
import json, sys
cached, plain = (json.load(open(path)) for path in sys.argv[1:3])
def turns(summary):
    rows = summary["turns"]
    assert [row["turn"] for row in rows] == [1, 2, 3, 4], [row["turn"] for row in rows]
    return rows
for name, summary in (("cached", cached), ("plain", plain)):
    rows = turns(summary)
    total = sum(row["requests"]["in_window"] for row in rows)
    assert total == summary["requests"]["in_window"], (name, total, summary["requests"]["in_window"])
    for row in rows:
        assert row["requests"]["failed"] == 0 and row["requests"]["succeeded"] > 0, (name, row)
    # Each turn's prompt is the history plus 300 tokens: mean input grows by 320 per turn.
    means = [row["throughput"]["input_tokens"] / row["requests"]["succeeded"] for row in rows]
    for k in range(4):
        assert abs(means[k] - (300 + 320 * k)) < 1, (name, means)
for k, (c, p) in enumerate(zip(turns(cached), turns(plain)), start=1):
    ttft_c, ttft_p = (b["latency"]["ttft"]["percentiles"]["p50"] for b in (c, p))
    ratio = c["cache"]["hit_ratio"]
    print(f"turn {k}: cached {c['cache']['cached_tokens']} of {c['cache']['input_tokens_with_cache_info']} "
          f"prompt tokens ({ratio:.0%}), TTFT p50 {ttft_c:.1f} ms with the cache vs {ttft_p:.1f} ms without")
    assert p["cache"]["cached_tokens"] == 0, p["cache"]
    if k == 1:
        assert ratio == 0, c["cache"]
        assert abs(ttft_c - ttft_p) < 2, (ttft_c, ttft_p)
    else:
        assert ratio > 0.4, c["cache"]  # the history, in full 16-token blocks
        assert ttft_c < 0.6 * ttft_p, (k, ttft_c, ttft_p)
PY

# requests.jsonl names each request's turn: per turn, the records add up to summary.json's turns
# and carry that turn's prompt (the history plus 300 tokens).
python3 - "$cached" <<'PY' || fail "requests.jsonl turns"
import collections, json, sys
directory = sys.argv[1]
summary = json.load(open(directory + "/summary.json"))
records = [json.loads(line) for line in open(directory + "/requests.jsonl")]
in_window = collections.Counter(r["turn"] for r in records if r["in_window"])
want = {row["turn"]: row["requests"]["in_window"] for row in summary["turns"]}
assert dict(in_window) == want, (dict(in_window), want)
for r in records:
    if r["outcome"] == "success":
        assert r["input_tokens"] == 300 + 320 * (r["turn"] - 1), r
print("requests.jsonl: %d records, in the window per turn %s, as summary.json's turns"
      % (len(records), ", ".join("%d: %d" % kv for kv in sorted(in_window.items()))))
PY
/usr/bin/python3 "$(dirname "$0")/check_requests_jsonl.py" "$cached" || fail "requests.jsonl"

# The report shows the turns: the Markdown table has a row per turn, and the JSON report's rows
# carry summary.json's figures (successes, mean prompt 300 + 320 per earlier turn).
"$controller" report --input "$cached" --format md --output "$work/report.md" ||
  fail "report --format md"
grep -A7 '^## Conversation turns' "$work/report.md"
"$controller" report --input "$cached" --format json --output "$work/report.json" ||
  fail "report --format json"
python3 - "$cached/summary.json" "$work/report.json" "$work/report.md" <<'PY' || fail "report turns"
import json, sys
summary, report = (json.load(open(path)) for path in sys.argv[1:3])
markdown = open(sys.argv[3]).read()
rows = report["turns"]
assert [row["turn"] for row in rows] == ["1", "2", "3", "4"], rows
for row, turn in zip(rows, summary["turns"]):
    assert row["succeeded"] == str(turn["requests"]["succeeded"]), (row, turn["requests"])
    assert row["mean prompt"] == str(300 + 320 * (turn["turn"] - 1)), row
    assert row["failed"] == "0", row
    assert "| %s | %s | %s |" % (row["turn"], row["succeeded"], row["mean prompt"]) in markdown, row
print("report: the turn table has %d rows, as summary.json's turns" % len(rows))
PY

# summary.json's per-turn blocks are part of its schema.
/usr/bin/python3 "$(dirname "$0")/validate_results.py" "$(dirname "$0")/../../controller/schemas" \
  "$cached" "$plain" || fail "a conversation result does not match its schema"

# A ShareGPT file: its records' human turns in order, each asking for its answer's length; a
# record ends at a human turn without an answer; turns.max caps the rest.
python3 - "$work/chats.json" <<'PY'
import json, sys
records = [
    {"conversations": [{"from": "human", "value": "one two three"}, {"from": "gpt", "value": "a b"},
                       {"from": "human", "value": "four five"}, {"from": "gpt", "value": "c d e"},
                       {"from": "human", "value": "six"}, {"from": "gpt", "value": "f"}]},
    {"conversations": [{"from": "human", "value": "seven eight"}, {"from": "gpt", "value": "g h i j"},
                       {"from": "human", "value": "no answer follows"}]},
]
json.dump(records, open(sys.argv[1], "w"))
PY
cat >"$work/sharegpt.yaml" <<YAML
benchmark: {name: sharegpt, duration: 2s}
target: {endpoint: "http://127.0.0.1:$cached_port/v1/chat/completions", model: sim-model}
load: {type: concurrency, concurrency: 2}
prompts:
  type: conversation
  dataset: "$work/chats.json"
  conversation: {turns: {mean: 2, max: 2}}
output: {dir: "$work/results", formats: [json]}
YAML
"$controller" validate --config "$work/sharegpt.yaml" >"$work/validate.out" 2>&1 ||
  fail "validate: $(cat "$work/validate.out")"
grep -q "prompts.dataset .*chats.json: 2 prompts" "$work/validate.out" ||
  fail "validate did not read the dataset: $(cat "$work/validate.out")"
"$controller" run --config "$work/sharegpt.yaml" --quiet >"$work/sharegpt.out" 2>&1 ||
  fail "sharegpt: exit $?: $(cat "$work/sharegpt.out")"
summary=$(ls -d "$work"/results/sharegpt-*/)summary.json
python3 - "$summary" <<'PY' || fail "sharegpt turns"
import json, sys
s = json.load(open(sys.argv[1]))
rows = s["turns"]
assert [r["turn"] for r in rows] == [1, 2], rows
out = [r["throughput"]["output_tokens"] / r["requests"]["succeeded"] for r in rows]
# Turn 1: "a b" (2) or "g h i j" (4) alternately; turn 2: only the first record has one ("c d e").
assert 2 <= out[0] <= 4 and out[1] == 3, out
print(f"ShareGPT conversations: turn 1 {rows[0]['requests']['succeeded']} requests, "
      f"turn 2 {rows[1]['requests']['succeeded']} (mean output {out[0]:.1f} and {out[1]:.0f} tokens)")
PY

# Open loops cannot hold conversations: refused with the reason, nothing sent.
rc=0
"$controller" validate --config "$work/cached.yaml" --set load.type=poisson --set load.rate=2 \
  >"$work/open.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "open-loop conversations: exit $rc"
grep -q "prompts.type conversation runs as a closed loop" "$work/open.out" ||
  fail "open loop: $(cat "$work/open.out")"
echo "conversation test: ok"
