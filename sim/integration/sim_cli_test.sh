#!/usr/bin/env bash
# bench-sim seen by standard clients: curl -N over HTTP/1.1 and nghttp over h2c receive the same
# event sequence (ids and timestamps aside); TLS with a self-signed certificate negotiates h2 by
# ALPN (nghttp, curl --http2) and serves HTTP/1.1 too; malformed and wrong requests get
# OpenAI-style JSON errors with the right status and the server keeps serving.
# Usage: sim_cli_test.sh BENCH_SIM_BINARY
set -euo pipefail
BENCH_SIM=${1:?usage: sim_cli_test.sh BENCH_SIM_BINARY}
source "$(dirname "$0")/sim_lib.sh"
for tool in curl nghttp openssl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh installs it)"
done

# Data lines of an SSE stream with the per-request id and timestamp blanked.
normalize() {
  grep '^data: ' | sed -E 's/"id":"[a-z]+-[0-9a-f]+"/"id":"X"/; s/"created":[0-9]+/"created":0/'
}

start_sim plain --ttft 5ms --itl 2ms --seed 11
port=$SIM_PORT_plain
base="http://127.0.0.1:$port"

# --- the same stream over HTTP/1.1 and h2c -----------------------------------------------------
chat='{"model":"sim-model","messages":[{"role":"user","content":"Tell me, briefly: why is the sky blue?"}],"max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}'
completion='{"model":"sim-model","prompt":"Once upon a time","max_tokens":6,"ignore_eos":true,"stream":true}'
for kind in chat completion; do
  body=${!kind}
  path=/v1/chat/completions
  [ "$kind" = completion ] && path=/v1/completions
  printf '%s' "$body" >"$SIM_WORK/$kind.json"
  curl -sS -N --http1.1 -H 'content-type: application/json' --data-binary "@$SIM_WORK/$kind.json" \
    "$base$path" | normalize >"$SIM_WORK/$kind.curl"
  nghttp -H 'content-type: application/json' -d "$SIM_WORK/$kind.json" "$base$path" |
    normalize >"$SIM_WORK/$kind.nghttp"
  [ -s "$SIM_WORK/$kind.curl" ] || fail "$kind: no events over HTTP/1.1"
  diff -u "$SIM_WORK/$kind.curl" "$SIM_WORK/$kind.nghttp" || fail "$kind: h2c events differ from HTTP/1.1"
  tail -1 "$SIM_WORK/$kind.curl" | grep -qx 'data: \[DONE\]' || fail "$kind: no [DONE] at the end"
done
# Chat: the role first, usage before [DONE] (the prompt is 10 tokens: Tell me , briefly : why is
# the sky blue ?  -> 11 with the question mark).
head -1 "$SIM_WORK/chat.curl" | grep -q '"delta":{"role":"assistant","content":""}' || fail "chat: no role first"
grep -q '"usage":{"prompt_tokens":11,' "$SIM_WORK/chat.curl" || fail "chat: usage prompt_tokens"
[ "$(grep -c '"text":' "$SIM_WORK/completion.curl")" -eq 6 ] || fail "completion: 6 token events expected"
echo "ok: curl (HTTP/1.1) and nghttp (h2c) received the same events"

# --- errors: OpenAI JSON, right status, server survives -----------------------------------------
check_error() {  # METHOD PATH BODY STATUS
  local out status
  out="$SIM_WORK/error.json"
  if [ "$1" = GET ]; then
    status=$(curl -sS -o "$out" -w '%{http_code}' "$base$2")
  else
    printf '%s' "$3" >"$SIM_WORK/error_body"
    status=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H 'content-type: application/json' \
      --data-binary "@$SIM_WORK/error_body" "$base$2")
  fi
  [ "$status" = "$4" ] || fail "$1 $2: status $status, expected $4: $(cat "$out")"
  grep -q '^{"error":{"message":".*","type":"[A-Za-z]*","param":.*,"code":'"$4"'}}$' "$out" ||
    fail "$1 $2: not an OpenAI error body: $(cat "$out")"
}
check_error POST /v1/chat/completions '{"model": "sim-model", "messages": [' 400
check_error POST /v1/chat/completions '{"model":"sim-model"}' 400
check_error POST /v1/completions '{"prompt":"hi"}' 400
check_error POST /v1/chat/completions '{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}' 404
long_prompt=$(printf 'word %.0s' $(seq 1 9000))
check_error POST /v1/completions "{\"model\":\"sim-model\",\"prompt\":\"$long_prompt\"}" 400
check_error GET /v1/chat/completions '' 405
check_error DELETE /v1/models '' 405
check_error GET /v1/nothing-here '' 404
# Raw garbage on a fresh connection: a 400 and a close.
garbage=$(printf 'HELLO\r\n\r\n' | curl -sS --max-time 5 telnet://127.0.0.1:$port 2>/dev/null || true)
echo "$garbage" | head -1 | grep -q '^HTTP/1.1 400' || fail "garbage: no 400 ($garbage)"
[ "$(curl -sS "$base/health")" = OK ] || fail "/health after errors"
kill -0 "$SIM_PID_plain" || fail "bench-sim died"
echo "ok: errors are OpenAI JSON (400, 404, 405) and the server survives"
stop_sim plain

# --- TLS: self-signed certificate, ALPN h2 and http/1.1 -----------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$SIM_WORK/key.pem" -out "$SIM_WORK/cert.pem" 2>/dev/null
start_sim tls --tls-cert "$SIM_WORK/cert.pem" --tls-key "$SIM_WORK/key.pem" --itl 1ms --seed 11
grep -q "listening on 127.0.0.1:$SIM_PORT_tls (https: h2, http/1.1)" "$SIM_WORK/tls.log" ||
  fail "TLS listening line"
tls_base="https://127.0.0.1:$SIM_PORT_tls"
nghttp -v -H 'content-type: application/json' -d "$SIM_WORK/chat.json" "$tls_base/v1/chat/completions" \
  >"$SIM_WORK/tls.nghttp"
grep -q 'The negotiated protocol: h2' "$SIM_WORK/tls.nghttp" || fail "nghttp: ALPN h2 not negotiated"
normalize <"$SIM_WORK/tls.nghttp" | tail -1 | grep -qx 'data: \[DONE\]' || fail "nghttp over TLS: no [DONE]"
version=$(curl -sS -N --http2 --cacert "$SIM_WORK/cert.pem" -o "$SIM_WORK/tls.curl" -w '%{http_version}' \
  -H 'content-type: application/json' --data-binary "@$SIM_WORK/chat.json" "$tls_base/v1/chat/completions")
[ "$version" = 2 ] || fail "curl --http2 over TLS negotiated HTTP/$version"
normalize <"$SIM_WORK/tls.curl" | diff -u "$SIM_WORK/chat.curl" - || fail "TLS h2 events differ"
version=$(curl -sS -N --http1.1 --cacert "$SIM_WORK/cert.pem" -o "$SIM_WORK/tls1.curl" -w '%{http_version}' \
  -H 'content-type: application/json' --data-binary "@$SIM_WORK/chat.json" "$tls_base/v1/chat/completions")
[ "$version" = 1.1 ] || fail "curl --http1.1 over TLS negotiated HTTP/$version"
normalize <"$SIM_WORK/tls1.curl" | diff -u "$SIM_WORK/chat.curl" - || fail "TLS HTTP/1.1 events differ"
echo "ok: TLS with a self-signed certificate: ALPN h2 (nghttp, curl) and http/1.1"
stop_sim tls
echo "sim_cli_test: all ok"
