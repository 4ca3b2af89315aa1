#!/usr/bin/env bash
# gRPC misuse against a controller daemon (grpc_misuse.cc): unknown run ids, missing fields, an
# oversized message, a worker that never reads, an abusive keepalive pinger each get the right
# status code; the daemon stays up, answers afterwards, logs why it ended the streams, and its
# memory stays bounded (RSS growth printed and checked).
# Usage: grpc_misuse_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: grpc_misuse_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
misuse=$build/tests/integration/grpc_misuse
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

"$controller" serve --insecure --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 \
  --results-dir "$work/results" >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
port=$(wait_port "$work/serve.log") || fail "serve did not start"
rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$serve_pid/status"; }
before=$(rss)

"$misuse" "127.0.0.1:$port" unknown-run missing-fields oversized oversized oversized never-reads \
  | tee "$work/misuse.out" || fail "a misuse got the wrong status (above)"
# An abusive keepalive pinger (raw HTTP/2 PING frames every 20 ms): GOAWAY ENHANCE_YOUR_CALM.
python3 "$(dirname "$0")/ping_flood.py" "127.0.0.1:$port" || fail "the ping flood was not stopped"
"$misuse" "127.0.0.1:$port" healthy || fail "the daemon does not answer after the misuse"
kill -0 "$serve_pid" 2>/dev/null || fail "the daemon died"
after=$(rss)
echo "daemon RSS: $before MB before, $after MB after"
# gRPC assembles a message before its size is checked, so a refused 65 MiB message passes
# through memory (measured: 20 to 67 MB of the daemon's RSS after one, what the allocator kept).
# The bound: three of them leave no more than one behind (68 MB) and some slack, not three.
# Not judged under ASan (scripts/test.sh sets ASAN_OPTIONS), whose quarantine keeps freed
# memory resident on purpose.
if [ -z "${ASAN_OPTIONS:-}" ]; then
  [ "$((after - before))" -lt 90 ] || fail "the daemon grew by $((after - before)) MB"
fi
grep -q "it reads nothing" "$work/serve.log" || fail "no log line for the worker that reads nothing"
# The daemon still serves: a status call through the CLI.
"$controller" status --controller "127.0.0.1:$port" --insecure >"$work/status.out" 2>&1 ||
  fail "status after the misuse: $(cat "$work/status.out")"
echo "grpc misuse test: ok"
