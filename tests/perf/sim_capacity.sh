#!/usr/bin/env bash
# bench-sim's speed, measured from outside with h2load (nghttp2's load generator), beside nginx
# serving the same SSE stream. Prints figures; --smoke asserts only that the runs are sound.
#   (a) zero latencies: token events/s delivered to h2load (1 connection, 100 streams) by one
#       bench-sim thread pinned to one core, and by one nginx worker on that core serving the
#       same bytes from the echo module, each event flushed; ratio sim/nginx
#   (b) --itl 50ms: concurrent streams held open vs the p99 of the sim's own
#       bench_sim:token_lateness_seconds over the steady part (scrapes before/after)
#   (c) sim RSS per open stream: 10,000 streams vs 100
#   (d) bench-controller run against bench-sim, one core each, at 1,000, 5,000 and 10,000 h2c
#       streams and 2,000 HTTP/1.1 connections (TTFT 50 ms, ITL 10 ms, 30 tokens): CPU per
#       token of the sim and of the engine on the same run and their ratio, the sim's lateness,
#       TTFT and ITL p50 against the truth
# Usage: tests/perf/sim_capacity.sh [--smoke] [--only a|b|d] [--rt] [build-dir]
#   --only a: the zero-latency rates alone; --only b: the held streams and memory alone;
#   --only d: the engine against the sim alone.
#   --rt: servers (bench-sim and nginx alike) run SCHED_FIFO (chrt -f 20), shielded from other
#   work on a shared machine; each figure line says how busy others kept the server's core.
#   build dir: argument, else $BENCH_BUILD_DIR, else build/. Needs h2load, taskset, curl; nginx
#   with the echo module (libnginx-mod-http-echo) for the comparison (skipped without it).
#   SIM_CORE / CLIENT_CORE choose the cores (default: the first two this process may use).
#   --sim-flags "FLAGS": more bench-sim flags for (d), e.g. "--tick 1ms" (word-split).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
smoke=false
only=""
rt=()
sim_flags_d=""
build=${BENCH_BUILD_DIR:-$root/build}
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=true ;;
    --only) only=${2:?--only a, b or d}; shift ;;
    --rt) rt=(chrt -f 20) ;;
    --sim-flags) sim_flags_d=${2?--sim-flags "bench-sim flags"}; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) build=$1 ;;
  esac
  shift
done
sim=$build/sim/bench-sim
[ -x "$sim" ] || { echo "build bench-sim first ($sim)"; exit 1; }
for tool in h2load taskset curl python3 timeout; do
  command -v "$tool" >/dev/null || { echo "$tool missing: scripts/setup.sh installs it"; exit 1; }
done
. "$(dirname "$0")/nginx_echo.sh"
echo_module=$nginx_echo_module
have_nginx=false
command -v nginx >/dev/null && [ -f "$echo_module" ] && have_nginx=true
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The first two cores this process may use (a container may not start at 0).
read -r -a cores < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')
sim_core=${SIM_CORE:-${cores[0]}}
client_core=${CLIENT_CORE:-${cores[1]:-${cores[0]}}}

work=$(mktemp -d)
server_pid=""
client_pid=""
cleanup() {
  # Only what this script started.
  [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

conditions() {  # the machine's state, so figures can be judged
  local builds=""
  pgrep -f ninja >/dev/null && builds=" - a build (ninja) is running: figures are pessimistic"
  local mode=""
  [ ${#rt[@]} -gt 0 ] && mode=", servers SCHED_FIFO (--rt)"
  echo "   load average $(cut -d' ' -f1-3 /proc/loadavg)$mode$builds"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of a pid
user_system_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }  # utime stime of a pid
# Busy ticks of one core (user, nice, system, irq, softirq, steal).
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# others_percent CORE_TICKS_BEFORE CORE_TICKS_AFTER SERVER_TICKS SECONDS: how much of the
# server's core went to other processes.
others_percent() {
  awk -v a="$1" -v b="$2" -v s="$3" -v e="$4" -v hz="$clk_tck" 'BEGIN {
    o = (b - a - s) / hz / e * 100; printf "%.0f", (o < 0 ? 0 : o) }'
}
clk_tck=$(getconf CLK_TCK)

start_sim() {  # bench-sim flags...: starts it pinned, sets server_pid and url
  "${rt[@]}" taskset -c "$sim_core" "$sim" --listen 127.0.0.1:0 --model sim-model "$@" >"$work/sim.log" 2>&1 &
  server_pid=$!
  local port=""
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/sim.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$work/sim.log"; fail "bench-sim did not start"; }
  url=http://127.0.0.1:$port
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

metric() {  # file series: the value of one exposition line (0 if absent)
  awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }' "$1"
}

h2load_field() {  # file name: requests "succeeded" etc., "data" bytes, "elapsed" seconds
  case "$2" in
    data) sed -n 's/^traffic:.*(\([0-9]*\)) data.*/\1/p' "$1" ;;
    elapsed) sed -n 's/^finished in \([0-9.]*\)s.*/\1/p' "$1" ;;
    *) awk -v k="$2" '/^requests:/ { for (i = 2; i < NF; ++i) if ($(i + 1) ~ "^" k) print $i }' "$1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# (a) zero latencies
tokens_a=200
concurrency_a=100
duration_a=10
$smoke && duration_a=2
printf '{"model":"sim-model","messages":[{"role":"user","content":"hi"}],"max_tokens":%d,"ignore_eos":true,"stream":true}\n' \
  "$tokens_a" >"$work/body_a.json"

# run_a LABEL URL: h2load on the client core against URL for duration_a; prints one line, sets
# rate_a (token events/s) and cpu_rate_a (token events per server CPU-second).
run_a() {
  local label=$1 target=$2 out=$work/h2load_a.out
  local ticks0 ticks1 core0 core1
  ticks0=$(cpu_ticks "$server_pid")
  core0=$(core_ticks "$sim_core")
  # A subshell, so `times` reports h2load's CPU alone.
  (timeout $((duration_a + 20)) taskset -c "$client_core" h2load -t1 -c1 -m"$concurrency_a" -D "$duration_a" \
    -d "$work/body_a.json" -H 'content-type: application/json' "$target" >"$out" 2>&1; times) \
    >"$work/times" 2>&1
  ticks1=$(cpu_ticks "$server_pid")
  core1=$(core_ticks "$sim_core")
  local ok failed errored data elapsed client_cpu
  ok=$(h2load_field "$out" succeeded)
  failed=$(h2load_field "$out" failed)
  errored=$(h2load_field "$out" errored)
  data=$(h2load_field "$out" data)
  elapsed=$(h2load_field "$out" elapsed)
  [ -n "$ok" ] && [ -n "$data" ] && [ -n "$elapsed" ] || { cat "$out"; fail "$label: no h2load summary"; }
  [ "$failed" = 0 ] && [ "$errored" = 0 ] || { cat "$out"; fail "$label: $failed failed, $errored errored"; }
  [ "$ok" -gt 0 ] || fail "$label: no response completed"
  # Every completed response carried the whole body: the DATA bytes are the completed bodies
  # plus at most one partial body per stream still open at the end.
  awk -v d="$data" -v n="$ok" -v b="$resp_bytes" -v c="$concurrency_a" 'BEGIN {
    exit !(d >= n * b && d <= (n + c) * b) }' ||
    fail "$label: $data DATA bytes for $ok responses of $resp_bytes bytes"
  client_cpu=$(tail -1 "$work/times" | awk '{ split($1,u,"m"); split($2,s,"m"); print u[1]*60+u[2]+s[1]*60+s[2] }')
  read -r rate_a cpu_rate_a < <(awk -v n="$ok" -v t="$tokens_a" -v e="$elapsed" \
    -v st="$((ticks1 - ticks0))" -v hz="$clk_tck" 'BEGIN {
      cpu = st / hz; printf "%.0f %.0f\n", n * t / e, (cpu > 0 ? n * t / cpu : 0) }')
  awk -v l="$label" -v n="$ok" -v e="$elapsed" -v r="$rate_a" -v cr="$cpu_rate_a" \
    -v st="$((ticks1 - ticks0))" -v hz="$clk_tck" -v cc="$client_cpu" -v d="$data" \
    -v o="$(others_percent "$core0" "$core1" "$((ticks1 - ticks0))" "$elapsed")" 'BEGIN {
      printf "%-9s %7d responses in %.2f s: %9.0f token events/s; server CPU %3.0f%%, h2load CPU %3.0f%%, others on the server core %d%%; %.0f events per server CPU-s; %.0f DATA bytes/response\n",
        l, n, e, r, 100 * st / hz / e, 100 * cc / e, o, cr, d / n }'
}

run_part_a() {
  echo "== (a) zero latencies: $tokens_a token events per response, h2load 1 connection x" \
    "$concurrency_a streams for $duration_a s on core $client_core, server on core $sim_core"
  conditions
  start_sim --ttft 0 --itl 0 --max-num-seqs 100000 --max-queue 100000
  # The reference body: nginx serves exactly these bytes.
  curl -sS --max-time 10 -N "$url/v1/chat/completions" -H 'content-type: application/json' \
    -d @"$work/body_a.json" >"$work/sample.sse"
  resp_bytes=$(wc -c <"$work/sample.sse")
  events_per_body=$(grep -c '^data: ' "$work/sample.sse")
  tail -3 "$work/sample.sse" | grep -q '^data: \[DONE\]' || fail "sample response has no [DONE]"
  run_a bench-sim "$url/v1/chat/completions"
  sim_rate=$rate_a
  sim_cpu_rate=$cpu_rate_a
  curl -sS --max-time 10 "$url/metrics" >"$work/metrics_a"
  stop_server
  [ "$(metric "$work/metrics_a" 'bench_sim:token_lateness_seconds_count{model_name="sim-model"}')" = \
    "$(metric "$work/metrics_a" 'vllm:generation_tokens_total{model_name="sim-model"}')" ] ||
    fail "token lateness count differs from vllm:generation_tokens_total"

  if $have_nginx; then
    grep -q "[\$'\\\\]" "$work/sample.sse" && fail "sample body needs quoting for nginx echo"
    {
      echo "      default_type text/event-stream;"
      echo "      echo_read_request_body;"
      awk 'length($0) > 0 { printf "      echo '\''%s'\''; echo '\'''\''; echo_flush;\n", $0 }' "$work/sample.sse"
    } >"$work/stream.inc"
    nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    nginx_echo_conf "$work" "$nginx_port" \
      "    location /v1/chat/completions { include $work/stream.inc; }" >"$work/nginx.conf"
    "${rt[@]}" taskset -c "$sim_core" nginx -p "$work" -c "$work/nginx.conf" &
    server_pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$nginx_port) 2>/dev/null && break; sleep 0.05; done
    run_a nginx "http://127.0.0.1:$nginx_port/v1/chat/completions"
    stop_server
    awk -v s="$sim_rate" -v n="$rate_a" -v sc="$sim_cpu_rate" -v nc="$cpu_rate_a" -v e="$events_per_body" 'BEGIN {
      printf "ratio bench-sim/nginx: %.2f token events/s (goal >= 1), %.2f per server CPU-s (same %d-event bodies)\n",
        s / n, (nc > 0 ? sc / nc : 0), e }'
  else
    echo "nginx or its echo module missing: no comparison"
  fi
  awk -v s="$sim_rate" 'BEGIN { printf "bench-sim: %.0f token events/s (goal >= 200,000: %s)\n", s,
    (s >= 200000 ? "met" : "missed") }'
  conditions
}

# ---------------------------------------------------------------------------------------------
# (b) and (c): streams held open at ITL 50 ms
tokens_b=240  # 12 s a stream: ramp-up, the steady window and the scrapes fit inside.
steady_b=7
counts_b=(100 1000 2000 5000 10000)
if $smoke; then
  tokens_b=60
  steady_b=1
  counts_b=(100 400)
fi
printf '{"model":"sim-model","messages":[{"role":"user","content":"hi"}],"max_tokens":%d,"ignore_eos":true,"stream":true}\n' \
  "$tokens_b" >"$work/body_b.json"

p99_of() {  # before after: "p50_ms p99_ms p99_bound_s mean_ms count" over the difference
  awk '
    function le_of(line) { sub(/.*le="/, "", line); sub(/".*/, "", line); return line == "+Inf" ? 1e99 : line + 0 }
    /^bench_sim:token_lateness_seconds_bucket/ {
      if (FNR == NR) before[le_of($1)] = $2; else { after[le_of($1)] = $2; les[++n] = le_of($1) }
    }
    /^bench_sim:token_lateness_seconds_sum/ { if (FNR == NR) sb = $2; else sa = $2 }
    END {
      total = after[1e99] - before[1e99]
      if (total <= 0) { print "nan nan nan nan 0"; exit }
      split("", out); lo = 0; prev = 0
      for (i = 1; i <= n; ++i) {
        le = les[i]; c = after[le] - before[le]
        for (q = 1; q <= 2; ++q) {
          target = (q == 1 ? 0.5 : 0.99) * total
          if (!(q in out) && c >= target) {
            hi = (le == 1e99 ? lo : le)
            out[q] = (c > prev ? lo + (hi - lo) * (target - prev) / (c - prev) : hi)
            if (q == 2) bound = le
          }
        }
        lo = le; prev = c
      }
      printf "%.3f %.3f %g %.3f %d\n", out[1] * 1e3, out[2] * 1e3, bound, (sa - sb) / total * 1e3, total
    }' "$1" "$2"
}

run_part_b() {
  echo "== (b) ITL 50 ms: concurrent streams held open ($tokens_b tokens each), p99 of" \
    "bench_sim:token_lateness_seconds over $steady_b s of steady state"
  conditions
  best_b=0
  declare -A rss_b hwm_b
  for n in "${counts_b[@]}"; do
    start_sim --ttft 0 --itl 50ms --max-num-seqs 20000 --max-queue 20000
    streams=$((n < 100 ? n : 100))
    connections=$(((n + streams - 1) / streams))
    # Streams last tokens_b x 50 ms (12 s); the timeout only guards against a hung server.
    timeout 40 taskset -c "$client_core" h2load -t1 -c "$connections" -m "$streams" -n "$n" \
      -d "$work/body_b.json" -H 'content-type: application/json' "$url/v1/chat/completions" \
      >"$work/h2load_b.out" 2>&1 &
    client_pid=$!
    running=0
    for _ in $(seq 100); do
      curl -sS --max-time 10 "$url/metrics" >"$work/m0" || true
      running=$(metric "$work/m0" 'vllm:num_requests_running{model_name="sim-model"}')
      [ "$running" -ge "$n" ] && break
      sleep 0.1
    done
    [ "$running" -ge "$n" ] || fail "$n streams: only $running running after 10 s"
    sleep 0.5
    busy=""
    pgrep -f ninja >/dev/null && busy=" [a build was running]"
    curl -sS --max-time 10 "$url/metrics" >"$work/m1"
    local ticks0 core0
    ticks0=$(cpu_ticks "$server_pid")
    core0=$(core_ticks "$sim_core")
    sleep "$steady_b"
    local ticks=$(($(cpu_ticks "$server_pid") - ticks0))
    others=$(others_percent "$core0" "$(core_ticks "$sim_core")" "$ticks" "$steady_b")
    server_cpu=$(awk -v t="$ticks" -v hz="$clk_tck" -v e="$steady_b" 'BEGIN { printf "%.0f", t / hz / e * 100 }')
    curl -sS --max-time 10 "$url/metrics" >"$work/m2"
    pgrep -f ninja >/dev/null && busy=" [a build was running]"
    rss_b[$n]=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
    hwm_b[$n]=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
    wait "$client_pid" || true
    client_pid=""
    ok=$(h2load_field "$work/h2load_b.out" succeeded)
    [ "$ok" = "$n" ] || { tail -20 "$work/h2load_b.out"; fail "$n streams: $ok succeeded"; }
    curl -sS --max-time 10 "$url/metrics" >"$work/m3"
    stop_server
    [ "$(metric "$work/m3" 'bench_sim:token_lateness_seconds_count{model_name="sim-model"}')" = \
      "$(metric "$work/m3" 'vllm:generation_tokens_total{model_name="sim-model"}')" ] ||
      fail "$n streams: token lateness count differs from vllm:generation_tokens_total"
    read -r p50 p99 bound mean count < <(p99_of "$work/m1" "$work/m2")
    verdict=$(awk -v b="$bound" 'BEGIN { print (b != "nan" && b <= 0.002) ? "< 2 ms" : ">= 2 ms" }')
    [ "$verdict" = "< 2 ms" ] && best_b=$n
    printf '%6d streams: %8d tokens in the window (%.0f/s), lateness p50 %s ms, p99 %s ms (bucket le=%s s: %s), mean %s ms; sim CPU %s%%, others on its core %s%%; RSS %d KB%s\n' \
      "$n" "$count" "$(awk -v c="$count" -v s="$steady_b" 'BEGIN { print c / s }')" \
      "$p50" "$p99" "$bound" "$verdict" "$mean" "$server_cpu" "$others" "${rss_b[$n]}" "$busy"
  done
  echo "largest tested count with p99 < 2 ms: $best_b (goal 10,000)"
  conditions

  low=${counts_b[0]}
  high=${counts_b[-1]}
  echo "== (c) bench-sim memory per open stream ($high vs $low streams, ITL 50 ms)"
  awk -v lo="$low" -v hi="$high" -v rl="${rss_b[$low]}" -v rh="${rss_b[$high]}" \
    -v hl="${hwm_b[$low]}" -v hh="${hwm_b[$high]}" 'BEGIN {
      printf "VmRSS %d KB with %d streams, %d KB with %d: %.2f KB per stream\n", rl, lo, rh, hi, (rh - rl) / (hi - lo);
      printf "VmHWM %d KB with %d streams, %d KB with %d: %.2f KB per stream\n", hl, lo, hh, hi, (hh - hl) / (hi - lo) }'
}

# ---------------------------------------------------------------------------------------------
# (d) the engine against bench-sim: the CPU each spends per token on the same run
# Each run: STREAMS:PROTOCOL. HTTP/1.1 holds one stream per connection, so every token is a
# write of its own.
counts_d=(1000:h2c 5000:h2c 10000:h2c 2000:http1)
duration_d=10
if $smoke; then
  counts_d=(200:h2c)
  duration_d=2
fi

run_part_d() {
  echo "== (d) bench-controller run (1 engine thread) against bench-sim, one core each: n" \
    "streams (closed loop, h2c; HTTP/1.1 where marked) of 30 tokens, TTFT 50 ms, ITL 10 ms, ${duration_d} s after 2 s"
  echo "   warmup; CPU per token of each (goal: sim/engine <= 0.5), lateness, TTFT/ITL vs the truth${sim_flags_d:+; bench-sim $sim_flags_d}"
  conditions
  local controller=$build/controller/bench-controller
  [ -x "$controller" ] || fail "build bench-controller first ($controller)"
  for run in "${counts_d[@]}"; do
    local n=${run%%:*} protocol=${run#*:}
    start_sim --ttft 50ms --itl 10ms --max-num-seqs 20000 --max-queue 20000 $sim_flags_d
    cat >"$work/run_d.yaml" <<EOF
benchmark: {name: d, duration: ${duration_d}s, warmup: 2s}
target: {endpoint: "$url/v1/completions", model: sim-model, protocol: $protocol}
load: {type: concurrency, concurrency: $n}
prompts: {type: synthetic, inputLength: {mean: 100}, outputLength: {mean: 30, stddev: 0}}
output: {dir: $work/results_d, formats: [json]}
EOF
    curl -sS --max-time 10 "$url/metrics" >"$work/d1"
    local sim_user0 sim_sys0 engine_user=0 engine_sys=0 ticks
    read -r sim_user0 sim_sys0 < <(user_system_ticks "$server_pid")
    taskset -c "$client_core" "$controller" run --config "$work/run_d.yaml" --quiet --threads 1 \
      >"$work/run_d.txt" 2>&1 &
    client_pid=$!
    while kill -0 "$client_pid" 2>/dev/null; do
      ticks=$(user_system_ticks "$client_pid" 2>/dev/null) && read -r engine_user engine_sys <<<"$ticks"
      sleep 0.1
    done
    wait "$client_pid" || { cat "$work/run_d.txt"; fail "$n streams: the run failed"; }
    client_pid=""
    local sim_user1 sim_sys1
    read -r sim_user1 sim_sys1 < <(user_system_ticks "$server_pid")
    local sim_after=$((sim_user1 + sim_sys1)) sim_before=$((sim_user0 + sim_sys0))
    local engine=$((engine_user + engine_sys))
    curl -sS --max-time 10 "$url/metrics" >"$work/d2"
    stop_server
    local tokens
    tokens=$(awk -v a="$(metric "$work/d1" 'vllm:generation_tokens_total{model_name="sim-model"}')" \
      -v b="$(metric "$work/d2" 'vllm:generation_tokens_total{model_name="sim-model"}')" \
      'BEGIN { print b - a }')
    [ "$tokens" -gt 0 ] || fail "$n streams: no tokens generated"
    read -r p50 p99 _ _ _ < <(p99_of "$work/d1" "$work/d2")
    local summary
    summary=$(ls -d "$work"/results_d/*/ | tail -1)summary.json
    read -r ttft itl errors < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["latency"]["ttft"]["percentiles"]["p50"], s["latency"]["itl"]["percentiles"]["p50"],
      s["requests"]["failed"])' "$summary")
    rm -rf "$work/results_d"
    local label=""
    [ "$protocol" = h2c ] || label=" ($protocol)"
    awk -v n="$n" -v label="$label" -v t="$tokens" -v s="$((sim_after - sim_before))" -v e="$engine" \
      -v hz="$clk_tck" -v p50="$p50" -v p99="$p99" -v ttft="$ttft" -v itl="$itl" -v err="$errors" 'BEGIN {
        su = s / hz / t * 1e6; eu = e / hz / t * 1e6
        printf "%6d streams%s: %d tokens; CPU per token sim %.2f us, engine %.2f us, ratio %.2f (%s); " \
          "tokens/s per sim core %.0f; lateness p50 %s ms, p99 %s ms; TTFT p50 %s ms (truth 50), " \
          "ITL p50 %s ms (truth 10); %d failed\n", n, label, t, su, eu, (eu > 0 ? su / eu : 0),
          (eu > 0 && su / eu <= 0.5 ? "met" : "missed"), (s > 0 ? t / (s / hz) : 0), p50, p99,
          ttft, itl, err }'
    # Where the time went: the kernel's part includes, for the writer, the loopback delivery
    # into the reader's socket (TCP receive processing and the reader's wake-up run in the
    # sender's system call), so the sim's system time is charged for both ends' TCP work.
    awk -v t="$tokens" -v su="$((sim_user1 - sim_user0))" -v ss="$((sim_sys1 - sim_sys0))" \
      -v eu="$engine_user" -v es="$engine_sys" -v hz="$clk_tck" 'BEGIN {
        f = 1e6 / hz / t
        printf "        user/system per token: sim %.2f / %.2f us, engine %.2f / %.2f us\n",
          su * f, ss * f, eu * f, es * f }'
  done
  conditions
}

[ "$only" = b ] || [ "$only" = d ] || run_part_a
[ "$only" = a ] || [ "$only" = d ] || run_part_b
[ "$only" = a ] || [ "$only" = b ] || run_part_d
$smoke && echo "smoke: all runs complete and consistent"
exit 0
