#!/usr/bin/env bash
# The preflight: one request before the run. A wrong model stops `run` within a second with
# exit 1 and bench-sim's own 404 text, before any window (no results directory, no summary);
# the right model passes it and runs; --no-preflight skips it; `submit` does the same on a
# daemon. Without --model, run takes the one model /v1/models lists (with the target's headers),
# and stops with the models named when there are several, or the server's error text.
# Usage: preflight_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: preflight_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model right --ttft 5ms --itl 1ms
endpoint="http://127.0.0.1:$sim_port/v1/chat/completions"
quick=(--endpoint "$endpoint" --rate 20 --duration 2s --output "$work/results"
  --set 'output.formats=[json]' --set prompts.outputLength.mean=4)

# Wrong model: exit 1 within a second, the sim's error text, nothing else sent.
start=$(date +%s%N)
rc=0
"$controller" run "${quick[@]}" --model wrong >"$work/wrong.out" 2>"$work/wrong.err" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" -eq 1 ] || fail "wrong model: exit $rc, want 1: $(cat "$work/wrong.err")"
[ "$elapsed_ms" -lt 1000 ] || fail "wrong model: took $elapsed_ms ms, want under 1000"
grep -q 'preflight: the test request to .* failed: http_4xx:404 .*The model `wrong` does not exist' \
  "$work/wrong.err" || fail "wrong model: no 404 text: $(cat "$work/wrong.err")"
[ ! -d "$work/results" ] || [ -z "$(ls "$work/results")" ] || fail "wrong model: results were written: $(ls "$work/results")"
[ ! -s "$work/wrong.out" ] || fail "wrong model: a summary was printed: $(cat "$work/wrong.out")"
[ "$(sim_served)" -eq 0 ] || fail "wrong model: the sim completed $(sim_served) requests"
echo "wrong model: exit 1 in $elapsed_ms ms: $(grep -o 'preflight: .*' "$work/wrong.err")"

# The right model: the preflight passes and the run follows.
"$controller" run "${quick[@]}" --model right >"$work/right.out" 2>"$work/right.err" ||
  fail "right model: exit $?: $(cat "$work/right.err")"
grep -q "preflight: one request answered" "$work/right.err" || fail "no preflight line: $(cat "$work/right.err")"
ls -d "$work"/results/quick-*/ >/dev/null || fail "right model: no results directory"
# The preflight is one request on one worker, whatever the run's worker-loss policy.
"$controller" run "${quick[@]}" --model right --set cluster.onWorkerLoss=rebalance --quiet \
  >"$work/rebalance.out" 2>&1 || fail "onWorkerLoss rebalance: exit $?: $(cat "$work/rebalance.out")"
echo "right model: $(grep -o 'preflight: .*' "$work/right.err"), then the run: $(grep -c . "$work/right.out") lines of summary"

# No model given: run takes the one model the server's /v1/models lists.
rm -rf "$work/results"
"$controller" run "${quick[@]}" >"$work/nomodel.out" 2>"$work/nomodel.err" ||
  fail "no model: exit $?: $(cat "$work/nomodel.err")"
grep -qF "target.model not set: right, the one model http://127.0.0.1:$sim_port/v1/models lists" \
  "$work/nomodel.err" || fail "no model: no note: $(cat "$work/nomodel.err")"
summary=$(ls -d "$work"/results/quick-*/)summary.json
[ "$(json "$summary" "d['target']['model']")" = right ] || fail "no model: summary's model is not right"
[ "$(json "$summary" "d['requests']['succeeded'] > 0")" = True ] || fail "no model: nothing succeeded"
echo "no model: $(grep -o 'target.model not set: .*' "$work/nomodel.err"); $(json "$summary" "d['requests']['succeeded']") requests succeeded"

# A server listing two models, and one that wants a key: nginx stands in for them.
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  server {
    listen 127.0.0.1:$nginx_port;
    default_type application/json;
    location = /two/v1/models { return 200 '{"object":"list","data":[{"id":"llama-8b"},{"id":"llama-70b"}]}'; }
    location = /keyed/v1/models {
      if (\$http_authorization != "Bearer sk-test-0123456789abcdef") {
        return 401 '{"error":{"message":"Incorrect API key provided: \$http_authorization"}}';
      }
      return 200 '{"data":[{"id":"keyed-model"}]}';
    }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" >"$work/nginx.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$nginx_port/two/v1/models" && break
  sleep 0.05
done
rc=0
"$controller" run "${quick[@]}" --endpoint "http://127.0.0.1:$nginx_port/two/v1/chat/completions" \
  >"$work/two.out" 2>"$work/two.err" || rc=$?
[ "$rc" -eq 2 ] || fail "two models: exit $rc, want 2: $(cat "$work/two.err")"
grep -qF "lists 2 models (llama-8b, llama-70b); pass --model NAME to pick one" "$work/two.err" ||
  fail "two models: $(cat "$work/two.err")"
echo "two models: exit 2: $(cat "$work/two.err")"
keyed=(--endpoint "http://127.0.0.1:$nginx_port/keyed/v1/chat/completions" --no-preflight)
rc=0
API_KEY=sk-wrong-key-0000000000 "$controller" run "${quick[@]}" "${keyed[@]}" \
  --set 'target.headers.Authorization=Bearer ${env:API_KEY}' >"$work/key.out" 2>"$work/key.err" || rc=$?
[ "$rc" -eq 2 ] || fail "wrong key: exit $rc, want 2: $(cat "$work/key.err")"
grep -q "HTTP 401: .*Incorrect API key provided" "$work/key.err" || fail "wrong key: $(cat "$work/key.err")"
grep -q "sk-wrong-key" "$work/key.err" && fail "wrong key: the key was printed: $(cat "$work/key.err")"
echo "wrong key: exit 2: $(cat "$work/key.err")"
rc=0
API_KEY=sk-test-0123456789abcdef "$controller" run "${quick[@]}" "${keyed[@]}" --duration 1s \
  --set 'target.headers.Authorization=Bearer ${env:API_KEY}' >"$work/keyed.out" 2>"$work/keyed.err" || rc=$?
grep -qF "target.model not set: keyed-model" "$work/keyed.err" || fail "right key: $(cat "$work/keyed.err")"
echo "right key: the model list was read with the header: $(grep -o 'target.model not set: .*' "$work/keyed.err")"

# Over TLS: the model list is read with target.tls (a CA of the test's own), and an unknown CA
# is refused with the reason.
(cd "$work" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=llm-d-bench test CA" &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=sim" &&
  printf 'subjectAltName=IP:127.0.0.1\n' >server.ext &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile server.ext) >/dev/null 2>&1 || fail "openssl could not make certificates"
plain_port=$sim_port
start_sim "$work/tls-sim.log" --model tls-model --tls-cert "$work/server.pem" --tls-key "$work/server.key"
tls_endpoint="https://127.0.0.1:$sim_port/v1/chat/completions"
"$controller" run "${quick[@]}" --endpoint "$tls_endpoint" --set "target.tls.caFile=$work/ca.pem" \
  --duration 1s >"$work/tls.out" 2>"$work/tls.err" || fail "TLS: exit $?: $(cat "$work/tls.err")"
grep -qF "target.model not set: tls-model" "$work/tls.err" || fail "TLS: $(cat "$work/tls.err")"
rc=0
"$controller" run "${quick[@]}" --endpoint "$tls_endpoint" >"$work/tls-ca.out" 2>"$work/tls-ca.err" || rc=$?
[ "$rc" -eq 1 ] || fail "TLS, unknown CA: exit $rc, want 1: $(cat "$work/tls-ca.err")"
grep -q "TLS handshake with 127.0.0.1 failed: .*certificate" "$work/tls-ca.err" ||
  fail "TLS, unknown CA: $(cat "$work/tls-ca.err")"
echo "TLS: $(grep -o 'target.model not set: .*' "$work/tls.err"); unknown CA: $(cat "$work/tls-ca.err")"
sim_port=$plain_port

# --no-preflight: the window runs and every request fails as http_4xx:404.
rm -rf "$work/results"
rc=0
"$controller" run "${quick[@]}" --model wrong --no-preflight --quiet >"$work/skip.out" 2>&1 || rc=$?
grep -q "preflight" "$work/skip.out" && fail "--no-preflight still ran it"
summary=$(ls -d "$work"/results/quick-*/)summary.json
[ "$(json "$summary" "d['requests']['succeeded']")" = 0 ] || fail "--no-preflight: successes against a wrong model"
echo "--no-preflight: the window ran (exit $rc): $(json "$summary" "d['requests']['errors'][0]['category']") x $(json "$summary" "d['requests']['failed']")"

# submit: the daemon runs the preflight first.
start_dev_cluster
cat >"$work/wrong.yaml" <<YAML
benchmark: {name: remote, duration: 2s}
target: {endpoint: "$endpoint", model: wrong}
load: {type: constant, rate: 10}
output: {dir: "$work/client", formats: [json]}
YAML
rc=0
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/wrong.yaml" \
  >"$work/submit.out" 2>"$work/submit.err" || rc=$?
[ "$rc" -eq 1 ] || fail "submit, wrong model: exit $rc: $(cat "$work/submit.err")"
grep -q 'The model `wrong` does not exist' "$work/submit.err" || fail "submit: no 404 text: $(cat "$work/submit.err")"
[ ! -d "$work/client" ] || fail "submit: results fetched for a run that never started"
echo "submit, wrong model: exit 1: $(grep -o 'preflight: .*' "$work/submit.err")"
# The daemon ran the preflight as a run of its own, which `list` leaves out.
"$controller" list --controller "127.0.0.1:$port" --insecure >"$work/list.out" 2>&1 || fail "list: $(cat "$work/list.out")"
grep -q preflight "$work/list.out" && fail "list shows the preflight run: $(cat "$work/list.out")"
ls "$work"/server-results | grep -q "remote-preflight-" || fail "the daemon kept no results of the preflight"
echo "preflight test: ok"
