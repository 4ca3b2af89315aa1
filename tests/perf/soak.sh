#!/usr/bin/env bash
# Soak: a long run at a steady rate against bench-sim, printing every 30 s the RSS and CPU of
# each process, then whether memory stayed flat. Not part of ctest (it takes the minutes asked).
#   tests/perf/soak.sh [BUILD_DIR] [--mode run|cluster] [--minutes N] [--rate R]
#     run      `bench-controller run` (workers in-process) and bench-sim
#     cluster  `bench-controller serve`, two bench-worker processes, `submit`, and bench-sim
# The tool's processes (controller, workers) are flat when every sample of their anonymous RSS
# (heap and stacks: what would grow if something were kept per request) after the first minute
# is within 5% of its median; exit 1 otherwise. The total RSS is printed too: its file-backed
# part is the executable's code and libraries, paged in as code paths first run (about 16 of a
# worker's 26 MB), which does not grow with the request count. bench-sim is shown for
# reference: its RSS climbs to a plateau that depends on the rate and is not judged.
set -euo pipefail
build=$(cd "$(dirname "$0")/../.." && pwd)/build
mode=run
minutes=10
rate=100
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -*) echo "usage: soak.sh [BUILD_DIR] [--mode run|cluster] [--minutes N] [--rate R]" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"

start_sim "$work/sim.log" --model m --ttft 30ms --itl 5ms --max-num-seqs 4096
seconds=$((minutes * 60))
cat >"$work/soak.yaml" <<YAML
benchmark: {name: soak, duration: ${seconds}s, warmup: 0s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions", model: m, protocol: h2c}
load: {type: poisson, rate: $rate}
prompts: {inputLength: {mean: 200, stddev: 50}, outputLength: {mean: 50, stddev: 10}}
cluster: {workers: 2}
output: {dir: "$work/results", formats: [json]}
YAML

declare -A watch  # name -> pid
watch[sim]=${pids[0]}
if [ "$mode" = cluster ]; then
  "$controller" serve --insecure --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 \
    --results-dir "$work/server-results" >"$work/serve.log" 2>&1 &
  pids+=($!)
  watch[controller]=$!
  port=$(wait_port "$work/serve.log" "serve: listening on") || fail "serve did not start"
  for i in 1 2; do
    "$worker" --controller "127.0.0.1:$port" --insecure --threads 1 --name "w$i" \
      >"$work/worker$i.log" 2>&1 &
    pids+=($!)
    watch[worker$i]=$!
  done
  "$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/soak.yaml" \
    --output "$work/client-results" >"$work/bench.out" 2>&1 &
  bench_pid=$!
elif [ "$mode" = run ]; then
  "$controller" run --config "$work/soak.yaml" --quiet >"$work/bench.out" 2>&1 &
  bench_pid=$!
  watch[controller]=$bench_pid
else
  fail "--mode must be run or cluster"
fi
pids+=("$bench_pid")

names=$(printf '%s\n' "${!watch[@]}" | sort)
# cpu_ticks PID: user + system clock ticks so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
anon_mb() { awk '/^RssAnon/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Threads: a thread's stack is anonymous memory, so thread churn shows in anonymous RSS.
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
declare -A last_ticks
for name in $names; do last_ticks[$name]=$(cpu_ticks "${watch[$name]}"); done

echo "soak ($mode): Poisson $rate req/s for $minutes min against bench-sim; every 30 s:"
header=$(printf '%6s' "t(s)")
for name in $names; do header+=$(printf ' %20s %6s %4s' "$name RSS/anon MB" "CPU %" "thr"); done
echo "$header"
: >"$work/samples"
elapsed=0
while kill -0 "$bench_pid" 2>/dev/null && [ "$elapsed" -lt $((seconds + 60)) ]; do
  sleep 30  # the sampling period, not synchronisation
  elapsed=$((elapsed + 30))
  kill -0 "$bench_pid" 2>/dev/null || break
  line=$(printf '%6d' "$elapsed")
  for name in $names; do
    pid=${watch[$name]}
    ticks=$(cpu_ticks "$pid")
    cpu=$(python3 -c "print(f'{100 * ($ticks - ${last_ticks[$name]}) / $hz / 30:.1f}')")
    last_ticks[$name]=$ticks
    rss=$(rss_mb "$pid")
    anon=$(anon_mb "$pid")
    line+=$(printf ' %20s %6s %4s' "$rss/$anon" "$cpu" "$(threads "$pid")")
    echo "$elapsed $name $rss $anon" >>"$work/samples"
  done
  echo "$line"
done
wait "$bench_pid" || fail "the benchmark failed: $(tail -20 "$work/bench.out")"
# Not the preflight's (a run of one request before the soak's own).
summary=$(find "$work" -name summary.json -not -path '*-preflight-*' | head -1)
[ -n "$summary" ] || fail "no summary.json"
echo "requests: $(json "$summary" "d['requests']['succeeded']") succeeded," \
  "$(json "$summary" "d['requests']['failed']") failed; achieved" \
  "$(json "$summary" "d['throughput']['requests_per_s']") req/s"

# Flat: after the first minute, every anonymous RSS sample within 5% of the median, per process.
python3 - "$work/samples" <<'PY'
import collections, statistics, sys
rss, anon = collections.defaultdict(list), collections.defaultdict(list)
for line in open(sys.argv[1]):
    t, name, total, private = line.split()
    if int(t) > 60:
        rss[name].append(float(total))
        anon[name].append(float(private))
ok = True
for name in sorted(anon):
    values = anon[name]
    median = statistics.median(values)
    spread = max(abs(v - median) for v in values) / median if median else 0
    judged = name != "sim"
    verdict = ("flat" if spread <= 0.05 else "NOT FLAT") if judged else "reference, not judged"
    ok = ok and (spread <= 0.05 or not judged)
    print(f"{name}: after the first minute, anonymous RSS {min(values):.1f}..{max(values):.1f} MB, "
          f"max {100 * spread:.1f}% from the median {median:.1f} MB: {verdict} "
          f"(total RSS {min(rss[name]):.1f}..{max(rss[name]):.1f} MB)")
sys.exit(0 if ok else 1)
PY
