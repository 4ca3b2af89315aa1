#!/usr/bin/env bash
# The daemon closed by default: `serve` over TLS with a bearer token, and with mTLS. A worker and
# the client commands that present the CA (and token, or client certificate) run a benchmark; a
# plaintext client, a client without the certificate, and a server without credentials are
# refused.
# Usage: cluster_tls_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: cluster_tls_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

# A CA, a server certificate for 127.0.0.1 and a client certificate, all from openssl.
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=llm-d-bench test CA" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
  -subj "/CN=controller" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile server.ext >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr \
  -subj "/CN=ci-client" >/dev/null 2>&1
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem \
  -days 2 >/dev/null 2>&1
cd - >/dev/null
echo "tls-token-$RANDOM$RANDOM" >"$work/token"

rc=0
"$controller" serve --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 >"$work/nocreds.out" 2>&1 ||
  rc=$?
[ "$rc" -eq 2 ] || fail "serve without TLS: exit $rc, want 2"
grep -q "TLS is required" "$work/nocreds.out" || fail "serve does not say TLS is required"
rc=0
"$controller" serve --insecure --listen 0.0.0.0:0 >"$work/open.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "serve --insecure on 0.0.0.0: exit $rc, want 2"

start_sim "$work/sim.log" --model m --ttft 10ms --itl 2ms
cat >"$work/run.yaml" <<YAML
benchmark: {name: tls, duration: 3}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: constant, rate: 20}
prompts: {inputLength: {mean: 20, stddev: 2}, outputLength: {mean: 5, stddev: 1}}
output: {formats: [json]}
YAML

# --- TLS + token ---------------------------------------------------------------------------------
"$controller" serve --listen 127.0.0.1:0 --tls-cert "$work/server.pem" --tls-key "$work/server.key" \
  --token-file "$work/token" --allow-target 127.0.0.1/32 --results-dir "$work/results" \
  >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/serve.log") || fail "no controller port"
tls=(--controller "127.0.0.1:$port" --ca-file "$work/ca.pem" --token-file "$work/token")
"$worker" "${tls[@]}" --threads 1 --name tls-worker >"$work/worker.log" 2>&1 &
pids+=($!)
"$controller" submit "${tls[@]}" --config "$work/run.yaml" --output "$work/client" --quiet \
  >"$work/submit.out" 2>&1 || fail "submit over TLS: $(cat "$work/submit.out")"
grep -q "^results: " "$work/submit.out" || fail "no results over TLS"
echo "TLS + token: a run through submit and a TLS worker: ok"
rc=0
"$controller" list --controller "127.0.0.1:$port" --insecure >"$work/plain.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a plaintext client against TLS: exit $rc, want 1"
rc=0
"$controller" list --controller "127.0.0.1:$port" --ca-file "$work/ca.pem" >"$work/notoken.out" 2>&1 ||
  rc=$?
[ "$rc" -eq 6 ] || fail "TLS without the token: exit $rc, want 6"

# --- mTLS ---------------------------------------------------------------------------------------
"$controller" serve --listen 127.0.0.1:0 --tls-cert "$work/server.pem" --tls-key "$work/server.key" \
  --client-ca "$work/ca.pem" --allow-target 127.0.0.1/32 --results-dir "$work/results2" \
  >"$work/serve2.log" 2>&1 &
pids+=($!)
port2=$(wait_port "$work/serve2.log") || fail "no mTLS controller port"
mtls=(--controller "127.0.0.1:$port2" --ca-file "$work/ca.pem" --cert-file "$work/client.pem"
  --key-file "$work/client.key")
"$controller" list "${mtls[@]}" >/dev/null || fail "mTLS client with a certificate refused"
rc=0
"$controller" list --controller "127.0.0.1:$port2" --ca-file "$work/ca.pem" >"$work/nocert.out" 2>&1 ||
  rc=$?
[ "$rc" -ne 0 ] || fail "an mTLS controller accepted a client without a certificate"
"$worker" "${mtls[@]}" --threads 1 --name mtls-worker >"$work/worker2.log" 2>&1 &
pids+=($!)
"$controller" submit "${mtls[@]}" --config "$work/run.yaml" --output "$work/client2" --quiet \
  >"$work/submit2.out" 2>&1 || fail "submit over mTLS: $(cat "$work/submit2.out")"
grep -q "cert=" "$work/serve2.log" || fail "the audit line does not name the client certificate"
echo "mTLS: a run, the caller's certificate in the audit line: $(grep -o 'audit: submit.*' \
  "$work/serve2.log" | head -1 | cut -c1-160)"
if grep -rq "$(cat "$work/token")" "$work"/*.log "$work"/*.out "$work/results" "$work/client"; then
  fail "the token appears in a log or a result"
fi
echo "cluster TLS test: ok"
