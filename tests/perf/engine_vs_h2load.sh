#!/usr/bin/env bash
# Engine speed against h2load (nghttp2's load generator) on the same nginx target in one run.
# Prints figures; asserts nothing (speed is measured here, never in unit tests).
#   (a) small responses: requests/s per client CPU-second, ours vs h2load
#   (b) 200 SSE events per response, each flushed as its own DATA frame: token events/s per
#       client CPU-second, ours (parsing and recording every event) vs h2load (counting bytes)
#   (c) peak RSS with 10,000 concurrent streams open, per stream beyond a 100-stream baseline
# Usage: tests/perf/engine_vs_h2load.sh [build-dir]   (needs nginx + echo module, h2load)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/perf/nginx_echo.sh"
build=${1:-$root/build}
controller=$build/controller/bench-controller
[ -x "$controller" ] || { echo "build bench-controller first ($controller)"; exit 1; }
command -v h2load >/dev/null || { echo "h2load missing: scripts/setup.sh installs it"; exit 1; }
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d)
nginx_pid=""
cleanup() { [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chunk='data: {"choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}'
{
  echo "      default_type text/event-stream;"
  echo "      echo_read_request_body;"
  for i in $(seq 200); do echo "      echo '$chunk'; echo ''; echo_flush;"; done
  echo "      echo 'data: [DONE]'; echo '';"
} > "$work/stream.inc"
nginx_echo_conf "$work" "$port" "$(cat <<LOCATIONS
    location /v1/small/chat/completions {
      default_type text/event-stream;
      echo_read_request_body;
      echo '$chunk';
      echo '';
      echo 'data: [DONE]';
      echo '';
    }
    location /v1/stream/chat/completions { include $work/stream.inc; }
    location /v1/hold/chat/completions {
      default_type text/event-stream;
      echo_read_request_body;
      echo_sleep 20;
      echo 'data: [DONE]';
      echo '';
    }
LOCATIONS
)" > "$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

echo '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"stream":true}' \
  > "$work/body.json"

# cpu_seconds CMD...: runs CMD, prints its user+sys CPU seconds (children of a subshell) on fd 3.
cpu_seconds() {
  local out
  out=$( { "$@" >"$work/out" 2>&1; times; } | tail -1)
  # `times` prints "0m0.004s 0m0.001s" for the children on its second line.
  awk '{ split($1,u,"m"); split($2,s,"m"); printf "%.3f", u[1]*60+u[2]+s[1]*60+s[2] }' <<<"$out"
}

succeeded() {  # requests.succeeded of the summary.json that run --json printed
  grep -o '"succeeded": [0-9]*' "$work/out" | head -1 | grep -o '[0-9]*$'
}

h2load_rate() {  # requests that h2load completed
  grep -E '^requests:' "$work/out" | awk '{print $8}'
}

run_ours() {  # path concurrency duration
  "$controller" run --endpoint "http://127.0.0.1:$port$1" --model m --concurrency "$2" \
    --duration "$3" --threads 1 --set target.protocol=h2c --set prompts.inputLength.mean=4 \
    --set prompts.inputLength.stddev=0 --output "$work/results" --json --quiet
}

echo "== (a) small responses, 1 client thread, 100 concurrent streams, 10 s"
ours_cpu=$(cpu_seconds run_ours /v1/small/chat/completions 100 10)
ours_ok=$(succeeded)
h2_cpu=$(cpu_seconds h2load -t1 -c1 -m100 -D 10 -d "$work/body.json" \
  -H 'content-type: application/json' "http://127.0.0.1:$port/v1/small/chat/completions")
h2_ok=$(h2load_rate)
awk -v a="$ours_ok" -v ac="$ours_cpu" -v b="$h2_ok" -v bc="$h2_cpu" 'BEGIN {
  ra = a / ac; rb = b / bc;
  printf "ours:   %d requests, %.2f CPU s, %.0f req per CPU-s\n", a, ac, ra;
  printf "h2load: %d requests, %.2f CPU s, %.0f req per CPU-s\n", b, bc, rb;
  printf "ratio ours/h2load: %.2f (goal >= 0.8)\n", ra / rb }'

echo "== (b) 200 SSE events per response, 1 client thread, 100 concurrent streams, 10 s"
ours_cpu=$(cpu_seconds run_ours /v1/stream/chat/completions 100 10)
ours_ok=$(succeeded)
h2_cpu=$(cpu_seconds h2load -t1 -c1 -m100 -D 10 -d "$work/body.json" \
  -H 'content-type: application/json' "http://127.0.0.1:$port/v1/stream/chat/completions")
h2_ok=$(h2load_rate)
awk -v a="$ours_ok" -v ac="$ours_cpu" -v b="$h2_ok" -v bc="$h2_cpu" 'BEGIN {
  ea = a * 200 / ac; eb = b * 200 / bc;
  printf "ours:   %d responses, %.2f CPU s, %.0f events per CPU-s (%.2f us/event)\n", a, ac, ea, 1e6/ea;
  printf "h2load: %d responses, %.2f CPU s, %.0f events per CPU-s (%.2f us/event)\n", b, bc, eb, 1e6/eb;
  printf "ratio ours/h2load: %.2f (goal >= 0.8)\n", ea / eb }'

echo "== (c) peak RSS with streams held open (server holds each response 20 s)"
peak_rss_kb() {  # concurrency
  "$controller" run --endpoint "http://127.0.0.1:$port/v1/hold/chat/completions" --model m \
    --concurrency "$1" --duration 6 --threads 1 --set target.protocol=h2c \
    --set target.timeout=8s --set prompts.inputLength.mean=4 --set prompts.inputLength.stddev=0 \
    --output "$work/results" --quiet >/dev/null 2>&1 &
  local pid=$! peak=0
  while kill -0 "$pid" 2>/dev/null; do
    local hwm
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
    sleep 0.2
  done
  wait "$pid" || true
  echo "$peak"
}
base=$(peak_rss_kb 100)
big=$(peak_rss_kb 10000)
awk -v b="$base" -v g="$big" 'BEGIN {
  printf "peak RSS: %d KB with 100 streams, %d KB with 10,000 streams\n", b, g;
  printf "per stream beyond the baseline: %.2f KB (goal <= 4 KB)\n", (g - b) / 9900 }'
