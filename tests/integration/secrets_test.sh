#!/usr/bin/env bash
# Secret header values: a literal `Authorization: Bearer sk-...` in the config works in `run` and
# through the cluster (the workers get the value they must send), and appears in no output,
# result file or log; re-running a results config.yaml (which says <redacted>) is refused with
# a message saying to supply the secret.
# Usage: secrets_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: secrets_test.sh BUILD_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

start_sim "$work/sim.log" --model m --ttft 5ms --itl 1ms
secret="sk-literal-secret-$RANDOM$RANDOM"
export BENCH_TEST_KEY="env-secret-$RANDOM$RANDOM"
cat >"$work/secret.yaml" <<YAML
benchmark: {name: secret, duration: 1s}
target:
  endpoint: "http://127.0.0.1:$sim_port/v1/chat/completions"
  model: m
  headers: {authorization: "Bearer $secret", x-api-key: "\${env:BENCH_TEST_KEY}"}
load: {type: constant, rate: 20}
prompts: {outputLength: {mean: 5, stddev: 0}}
output: {dir: "$work/results", formats: [json]}
YAML

# no_secret WHERE...: neither secret appears in these files or directories.
no_secret() {
  if grep -rl -e "$secret" -e "$BENCH_TEST_KEY" "$@"; then fail "a secret leaked into the files above"; fi
}

"$controller" run --config "$work/secret.yaml" --quiet >"$work/run.out" 2>&1 ||
  fail "run with a literal secret header: exit $? $(cat "$work/run.out")"
summary=$(ls -d "$work"/results/secret-*/)summary.json
succeeded=$(json "$summary" "d['requests']['succeeded']")
echo "run: $succeeded requests succeeded with the literal secret header"
[ "$succeeded" -eq 20 ] || fail "run: $succeeded of 20 succeeded"
grep -q "\"authorization\": \"<redacted>\"" "$(dirname "$summary")/config.yaml" ||
  fail "config.yaml does not redact the header: $(grep -A3 headers: "$(dirname "$summary")/config.yaml")"
no_secret "$work/results" "$work/run.out"

# Re-running the results config.yaml: refused before anything is sent.
rc=0
"$controller" run --config "$(dirname "$summary")/config.yaml" --quiet >"$work/rerun.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "re-running a redacted config.yaml succeeded"
grep -q "supply the secret" "$work/rerun.out" || fail "no 'supply the secret' message: $(cat "$work/rerun.out")"
echo "re-run of the results config.yaml: exit $rc, $(grep -o "target.headers.authorization is <redacted>[^:]*" "$work/rerun.out" | head -1)"

# Through the cluster.
start_dev_cluster
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/secret.yaml" \
  --output "$work/client-results" >"$work/submit.out" 2>&1 ||
  fail "submit with a literal secret header: exit $? $(cat "$work/submit.out")"
summary=$(find "$work/client-results" -name summary.json | head -1)
succeeded=$(json "$summary" "d['requests']['succeeded']")
echo "submit: $succeeded requests succeeded with the literal secret header"
[ "$succeeded" -eq 20 ] || fail "submit: $succeeded of 20 succeeded"
no_secret "$work/client-results" "$work/server-results" "$work/submit.out" "$work/serve.log" \
  "$work/worker.log"
echo "PASS"
