#!/usr/bin/env bash
# Scale on loopback: 50 bench-worker processes (1 engine thread each) join one controller; a
# Poisson run over all of them gets shares that sum exactly to the target (rates to the last bit,
# concurrency to the slot), and every worker sends requests that the sim serves.
# Usage: cluster_scale_test.sh BUILD_DIR [WORKERS]
set -euo pipefail
build=${1:?usage: cluster_scale_test.sh BUILD_DIR [WORKERS]}
count=${2:-50}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 10ms --itl 2ms
"$controller" serve --insecure --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 \
  --results-dir "$work/results" >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/serve.log") || fail "no controller port"
for i in $(seq "$count"); do
  "$build/worker/bench-worker" --controller "127.0.0.1:$port" --insecure --threads 1 \
    --name "w$i" >"$work/worker$i.log" 2>&1 &
  pids+=($!)
done
cat >"$work/scale.yaml" <<YAML
benchmark: {name: scale, duration: 8, seed: 5}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m}
load: {type: poisson, rate: 150, concurrency: 1000}
prompts: {inputLength: {mean: 20, stddev: 2}, outputLength: {mean: 5, stddev: 1}}
cluster: {workers: $count}
output: {formats: [json]}
YAML
start=$(date +%s)
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/scale.yaml" --no-preflight \
  --output "$work/client" --quiet >"$work/submit.out" 2>&1 || { cat "$work/submit.out"; fail "submit"; }
echo "$count workers: submit returned after $(( $(date +%s) - start )) s"
summary=$(sed -n 's/^results: //p' "$work/submit.out")/summary.json
served=$(sim_served)
python3 - "$summary" "$count" "$served" <<'PY' || fail "shares do not add up"
import json, sys
d = json.load(open(sys.argv[1]))
count, served = int(sys.argv[2]), int(sys.argv[3])
workers = d["workers"]
rate = sum(w["rate"] for w in workers)
concurrency = sum(w["concurrency"] for w in workers)
idle = [w["name"] for w in workers if w["requests"] == 0]
print(f"{len(workers)} workers: rates sum to {rate!r} req/s (target 150), concurrency to "
      f"{concurrency} (cap 1000); requests {d['requests']['in_window']}, sim served {served}; "
      f"workers without requests: {idle}")
ok = len(workers) == count and rate == 150.0 and concurrency == 1000
ok = ok and d["requests"]["in_window"] == served and d["requests"]["succeeded"] == served
sys.exit(0 if ok else 1)
PY
echo "cluster scale test: ok"
