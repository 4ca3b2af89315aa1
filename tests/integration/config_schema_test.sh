#!/usr/bin/env bash
# The config reference generated from the config table: docs/config.md is what
# `bench-controller schema --format markdown` prints (else it is stale); every example config,
# and the resolved config `validate` prints for it, is valid by the JSON Schema according to Ajv
# (npm, an independent implementation) and by `validate`; broken configs are refused by both.
# Usage: config_schema_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: config_schema_test.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: config_schema_test.sh BUILD_DIR SOURCE_DIR}
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
node_dir=$(cd "$(dirname "$0")/../node" && pwd)
[ -d "$node_dir/node_modules/ajv" ] || { echo "SKIP: npm packages missing (scripts/setup.sh)"; exit 77; }
ajv_check() { (cd "$node_dir" && node config_schema_check.js "$@"); }

# 1. docs/config.md is the table's.
"$controller" schema --format markdown --output "$work/config.md"
if ! diff -u "$src/docs/config.md" "$work/config.md" >"$work/docs.diff"; then
  head -40 "$work/docs.diff"
  fail "docs/config.md is stale: run bench-controller schema --format markdown --output docs/config.md"
fi
keys=$(grep -c '^| `' "$work/config.md")
echo "docs/config.md is up to date: $keys keys in $(grep -c '^## ' "$work/config.md") sections"

# 2. The schema, and every example (the seed's dataset is a stand-in, as in validate_cli_test).
"$controller" schema >"$work/schema.json"
examples=("$src"/deploy/examples/*.yaml)
[ "${#examples[@]}" -ge 10 ] || fail "expected at least 10 examples, found ${#examples[@]}"
ajv_check "$work/schema.json" valid "${examples[@]}" | tee "$work/ajv-examples.log" ||
  fail "an example config is not valid by the JSON Schema"
mkdir -p "$work/cwd" "$work/resolved"
cp "$src/worker/engine/testdata/prompts/sharegpt_small.json" "$work/cwd/ShareGPT_V3_unfiltered.json"
for config in "${examples[@]}"; do
  name=$(basename "$config")
  (cd "$work/cwd" && "$controller" validate --config "$config") >"$work/resolved/$name" \
    2>"$work/validate.log" || fail "validate refused $name: $(cat "$work/validate.log")"
done
ajv_check "$work/schema.json" valid "$work"/resolved/*.yaml >"$work/ajv-resolved.log" || {
  cat "$work/ajv-resolved.log"
  fail "a resolved config (validate's output) is not valid by the JSON Schema"
}
echo "${#examples[@]} examples and their ${#examples[@]} resolved configs: valid by Ajv and by validate"

# Forms both take that are not the examples' own: nulls for defaults, a number where a string
# goes, an empty format list.
mkdir -p "$work/edge"
printf 'benchmark: {name: 2024, warmup: ~}\nmetrics:\ntarget: {headers: {X-Tenant: 42}}\noutput: {formats: []}\n' \
  >"$work/edge/nulls.yaml"
printf 'benchmark: {name: t}\nload: {type: concurrency, concurrency: 4}\nprompts: {type: conversation, conversation: {turns: 3, thinkTime: 1s}}\n' \
  >"$work/edge/turns.yaml"
ajv_check "$work/schema.json" valid "$work"/edge/*.yaml >"$work/ajv-edge.log" || {
  cat "$work/ajv-edge.log"
  fail "a config validate takes is not valid by the JSON Schema"
}
for config in "$work"/edge/*.yaml; do
  "$controller" validate --config "$config" >/dev/null 2>"$work/validate.log" ||
    fail "validate refused $(basename "$config"): $(cat "$work/validate.log")"
done

# 3. Broken configs: refused by Ajv and by validate alike.
base=$src/deploy/examples/poisson.yaml
grep -q '^  rate: ' "$base" || fail "poisson.yaml has no '  rate:' line to break"
mkdir -p "$work/broken"
broken() {  # broken NAME SED_SCRIPT
  sed "$2" "$base" >"$work/broken/$1.yaml"
  cmp -s "$base" "$work/broken/$1.yaml" && fail "$1: the edit changed nothing"
  return 0
}
broken misspelled-key 's/^  rate: /  rat: /'
broken negative-rate 's/^  rate: .*/  rate: -3/'
broken rate-as-text 's/^  rate: .*/  rate: fast/'
broken closed-loop-with-rate 's/^  type: poisson.*/  type: concurrency/'
broken ramp-without-ramp 's/^  type: poisson.*/  type: ramp/'
broken unknown-protocol 's|^target:|target:\n  protocol: h3|'
broken bad-duration 's/^  duration: .*/  duration: 5x/'
broken no-name 's/^  name: .*//'
broken percentile-100 's|^metrics:|metrics:\n  percentiles: [50, 100]|'
broken twice-listed-format '$ a output:\n  formats: [json, json]'
broken small-response-cap 's|^target:|target:\n  maxResponseBytes: 512|'
broken too-many-turns 's|^prompts:|prompts:\n  conversation: {turns: {mean: 4, max: 5000}}|'
broken unknown-section 's|^benchmark:|benchmarks:\n  name: x\nbenchmark:|'
grep -q '^metrics:' "$base" || fail "poisson.yaml lacks metrics:"
ajv_check "$work/schema.json" invalid "$work"/broken/*.yaml | tee "$work/ajv-broken.log" ||
  fail "a broken config is valid by the JSON Schema"
for config in "$work"/broken/*.yaml; do
  if "$controller" validate --config "$config" >/dev/null 2>"$work/validate.log"; then
    fail "validate accepted $(basename "$config")"
  fi
done
echo "$(ls "$work"/broken | wc -l) broken configs: refused by Ajv and by validate"

# 4. Usage.
if "$controller" schema --format yaml >/dev/null 2>"$work/usage.log"; then
  fail "schema --format yaml was accepted"
fi
grep -q "json or markdown" "$work/usage.log" || fail "schema --format yaml: $(cat "$work/usage.log")"
echo "PASS"
