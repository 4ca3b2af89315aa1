#!/usr/bin/env bash
# Memory per request stays bounded however large the response (issue: a 300 MiB body held whole,
# every chunk's arrival time kept). bench-controller run against a server whose responses never
# fit: the process's peak RSS (ru_maxrss) must stay under 64 MB for
#   - one 300 MiB non-streaming body (response_too_large at target.maxResponseBytes, 16 MiB),
#     declared by Content-Length (refused at once) and chunked (read up to the cap);
#   - 100 endless token streams at once for STREAM_SECONDS (default 10 s; the acceptance run
#     uses 30): timeouts, millions of tokens read;
#   - 100 such bodies at once;
#   - valid completions of 300 MiB, and 100 of REPLY_MIB (default 20) at once, with
#     maxResponseBytes 1GiB: decoded as they arrive, so they succeed and hold nothing;
# and target.maxResponseTokens ends an endless stream as response_too_large.
# Usage: bounded_memory_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: bounded_memory_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
seconds=${STREAM_SECONDS:-10}
limit_kb=$((64 * 1024))
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

python3 "$(dirname "$0")/hostile_server.py" --big-mib 300 >"$work/server.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/server.log") || fail "hostile_server.py did not start"

# run NAME PATH USERS TIMEOUT EXTRA_TARGET: runs to completion; prints "PEAK_KB SUMMARY".
run() {
  cat >"$work/$1.yaml" <<YAML
benchmark: {name: $1, warmup: 0s, duration: 1s, maxRequests: $3}
target: {endpoint: "http://127.0.0.1:$port$2/chat/completions", model: m, protocol: http1,
         timeout: $4, $5}
load: {type: concurrency, concurrency: $3}
output: {dir: "$work/results", formats: [json]}
YAML
  local peak
  peak=$(python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    code = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
' "$work/$1.out" "$controller" run --config "$work/$1.yaml" --quiet --no-preflight)
  set -- "$1" "${peak% *}" "${peak#* }"
  # Exit 1: no request succeeded, which is what these servers are for.
  [ "$3" = 0 ] || [ "$3" = 1 ] || fail "$1: exit $3: $(cat "$work/$1.out")"
  echo "$2 $(ls -d "$work"/results/"$1"-*/)summary.json"
}

# check NAME PEAK_KB SUMMARY CATEGORY COUNT
# check NAME PEAK_KB SUMMARY CATEGORY COUNT: every request failed as CATEGORY (none: every
# request succeeded, with the output tokens the server's usage reported), under the RSS limit.
check() {
  local errors expected=$4:$5
  errors=$(json "$3" "' '.join('%s:%d' % (e['category'], e['count']) for e in d['requests']['errors'])")
  [ -n "$4" ] || expected=
  echo "$1: peak RSS $(($2 / 1024)) MB; errors ${errors:-none}; succeeded" \
    "$(json "$3" "d['requests']['succeeded']"), output tokens $(json "$3" "d['throughput']['output_tokens']")"
  [ "$errors" = "$expected" ] || fail "$1: errors '$errors', expected '$expected'"
  [ "$2" -lt "$limit_kb" ] || fail "$1: peak RSS $2 kB is not under $limit_kb kB"
}

read -r peak summary < <(run big /v1/big 1 60s "extraBody: {stream: false}")
check "one 300 MiB body" "$peak" "$summary" response_too_large 1
# Its length not declared, the body is read and held up to the cap (16 MiB) before it fails.
read -r peak summary < <(run big-chunked /v1/big-chunked 1 60s "extraBody: {stream: false}")
check "one 300 MiB chunked body" "$peak" "$summary" response_too_large 1

read -r peak summary < <(run endless /v1/endless 100 "${seconds}s" "")
check "100 endless streams for ${seconds} s" "$peak" "$summary" timeout 100
chunks=$(json "$(dirname "$summary")/metrics.json" "sum(p['output_chunks'] for p in d['series'])")
echo "  tokens read: $chunks"
[ "$chunks" -gt 1000000 ] || fail "only $chunks tokens read: the streams were not endless"

read -r peak summary < <(run bodies /v1/big-chunked 100 60s "extraBody: {stream: false}")
check "100 300 MiB chunked bodies at once" "$peak" "$summary" response_too_large 100

# Valid completions are decoded as they arrive, never held: a large cap costs no memory.
read -r peak summary < <(run reply /v1/reply/300 1 60s \
  "extraBody: {stream: false}, maxResponseBytes: 1GiB")
check "one 300 MiB completion, maxResponseBytes 1GiB" "$peak" "$summary" "" ""
read -r peak summary < <(run replies /v1/reply-chunked/${REPLY_MIB:-20} 100 60s \
  "extraBody: {stream: false}, maxResponseBytes: 1GiB")
check "100 ${REPLY_MIB:-20} MiB chunked completions at once, maxResponseBytes 1GiB" \
  "$peak" "$summary" "" ""

read -r peak summary < <(run capped /v1/endless 10 60s "maxResponseTokens: 5000")
check "10 endless streams, maxResponseTokens 5000" "$peak" "$summary" response_too_large 10
echo "PASS"
