#!/usr/bin/env bash
# Runs `bench-controller validate` on every deploy/examples config and on broken copies, and
# checks exit codes (SPEC section 7: 0 valid, 2 invalid usage or config) and what it prints.
# Usage: validate_cli_test.sh BENCH_CONTROLLER SOURCE_DIR
set -uo pipefail
bin=${1:?usage: validate_cli_test.sh BENCH_CONTROLLER SOURCE_DIR}
src=${2:?usage: validate_cli_test.sh BENCH_CONTROLLER SOURCE_DIR}
examples="$src/deploy/examples"
work=$(mktemp -d "${TMPDIR:-/tmp}/validate_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
checks=0
fail() {
  echo "FAIL: $*"
  echo "  --- stdout"; sed 's/^/  | /' "$work/out"
  echo "  --- stderr"; sed 's/^/  | /' "$work/err"
  failures=$((failures + 1))
}

# run EXPECTED_EXIT ARGS...: runs validate, keeps stdout/stderr in $work/out, $work/err.
run() {
  local expected=$1
  shift
  checks=$((checks + 1))
  "$bin" validate "$@" >"$work/out" 2>"$work/err"
  local code=$?
  if [ "$code" -ne "$expected" ]; then
    fail "validate $* exited $code, expected $expected"
    return 1
  fi
  return 0
}

# expect_in FILE TEXT WHAT: fixed-string search.
expect_in() {
  checks=$((checks + 1))
  grep -qF -- "$2" "$work/$1" || fail "$3: $1 lacks: $2"
}
expect_not_in() {
  checks=$((checks + 1))
  if grep -qF -- "$2" "$work/$1"; then fail "$3: $1 contains: $2"; fi
}

# 1. Every example validates, and its printed resolved config validates again. The seed's
# cache example reads ShareGPT_V3_unfiltered.json from the working directory, as a user who
# downloaded it would: a small ShareGPT file stands in for it (and without it, validate says so).
mkdir -p "$work/cwd"
cd "$work/cwd" || exit 1
if run 2 --config "$examples/seed-my-benchmark.yaml"; then
  expect_in err "prompts.dataset: " "seed dataset absent"
  expect_in err "ShareGPT_V3_unfiltered.json" "seed dataset absent"
fi
cp "$src/worker/engine/testdata/prompts/sharegpt_small.json" ShareGPT_V3_unfiltered.json
count=0
for config in "$examples"/*.yaml; do
  count=$((count + 1))
  name=$(basename "$config")
  if run 0 --config "$config"; then
    expect_in out "# Valid." "$name"
    expect_in out "# Plan" "$name"
    cp "$work/out" "$work/resolved-$name"
    run 0 --config "$work/resolved-$name" || true
  fi
done
[ "$count" -ge 10 ] || fail "expected at least 10 examples in $examples, found $count"

# The seed's examples are there, verbatim names.
for seed in seed-benchmark-config.yaml seed-my-benchmark.yaml; do
  [ -f "$examples/$seed" ] || fail "missing $examples/$seed"
done

# 2. A typo'd key: exit 2, the key named, the right one suggested.
sed 's/^  rate: 20 .*$/  rat: 5/' "$examples/throughput.yaml" >"$work/typo.yaml"
grep -q '^  rat: 5$' "$work/typo.yaml" || fail "could not make the typo copy"
typo_line=$(grep -n '^  rat: 5$' "$work/typo.yaml" | cut -d: -f1)
if run 2 --config "$work/typo.yaml"; then
  expect_in err "$work/typo.yaml:$typo_line: unknown key load.rat (did you mean load.rate?)" typo
  expect_in err "nothing was sent" typo
fi

# 3. A negative rate: exit 2 with the line number and the key.
sed 's/^  rate: 20 .*$/  rate: -3/' "$examples/throughput.yaml" >"$work/negative.yaml"
negative_line=$(grep -n '^  rate: -3$' "$work/negative.yaml" | cut -d: -f1)
[ -n "$negative_line" ] || fail "could not make the negative-rate copy"
if run 2 --config "$work/negative.yaml"; then
  expect_in err "$work/negative.yaml:$negative_line: load.rate must be > 0, got -3" negative
fi

# 4. Bad usage: unknown flag, missing file, no --config, a directory.
if run 2 --config "$examples/throughput.yaml" --bogus; then
  expect_in err "unknown flag --bogus" "unknown flag"
  expect_in err "usage: bench-controller validate" "unknown flag"
fi
if run 2 --config "$work/does-not-exist.yaml"; then
  expect_in err "cannot read $work/does-not-exist.yaml: No such file or directory" "missing file"
fi
head -c 2097152 /dev/zero | tr '\0' '#' >"$work/huge.yaml"
if run 2 --config "$work/huge.yaml"; then
  expect_in err "$work/huge.yaml: the config is 2097152 bytes; the limit is 1048576" "size"
fi
if run 2; then expect_in err "missing --config FILE" "no --config"; fi
if run 2 --config "$work"; then expect_in err "Is a directory" "directory"; fi
if run 2 --config "$examples/throughput.yaml" --set; then
  expect_in err "--set needs key.path=value" "--set without value"
fi
run 0 --help && expect_in out "usage: bench-controller validate" "--help"

# 5. Overrides in both forms, errors attributed to them, --endpoint/--model complete a target.
if run 0 --config "$examples/throughput.yaml" --set load.rate=7 --set=load.concurrency=9; then
  expect_in out "  rate: 7" "--set"
  expect_in out "  concurrency: 9" "--set="
fi
if run 0 --config "$examples/throughput.yaml" --set 'load.type=stages' --set 'load.rate=' \
    --set 'load.stages=[{rate: 5, duration: 10}, {rate: 10, duration: 10}]' \
    --set benchmark.duration=; then
  expect_in out "    - {rate: 5, duration: 10s}" "--set list"
  expect_in out "about 150 measured" "--set list plan"
fi
if run 2 --config "$examples/throughput.yaml" --set load.rate=-1; then
  expect_in err "--set load.rate=-1: load.rate must be > 0, got -1" "--set error"
fi
if run 2 --config "$examples/throughput.yaml" --set load.rat=1; then
  expect_in err "--set load.rat=1: unknown key load.rat (did you mean load.rate?)" "--set typo"
fi
if run 0 --config "$examples/seed-my-benchmark.yaml" \
    --endpoint http://127.0.0.1:8000/v1/completions --model=sim-model; then
  expect_in out 'endpoint: "http://127.0.0.1:8000/v1/completions"' "--endpoint"
  expect_in out "(completions API)" "--endpoint API"
  expect_in out "load.type: shareGPT is shorthand" "shorthand note"
  expect_not_in out "Before \`run\`" "--endpoint/--model"
fi
if run 0 --config "$examples/seed-my-benchmark.yaml"; then
  expect_in out "run needs --endpoint URL and --model NAME" "no target"
fi

# 6. Secrets never printed; references are.
cat >"$work/secret.yaml" <<'YAML'
benchmark: {name: secret}
target:
  endpoint: http://127.0.0.1:8000/v1/chat/completions
  model: sim-model
  headers: {Authorization: "Bearer sk-do-not-print", X-Api-Key: "${env:KEY}"}
YAML
if run 0 --config "$work/secret.yaml" --set 'target.headers.Cookie=session=s3cr3t'; then
  expect_not_in out "sk-do-not-print" secrets
  expect_not_in out "s3cr3t" secrets
  expect_in out '"X-Api-Key": "${env:KEY}"' references
fi
if run 2 --config "$work/secret.yaml" --set 'target.headers.Cookie=[s3cr3t]'; then
  expect_not_in err "s3cr3t" "secret in an error"
fi

# 7. A trace is read and summarised; a broken one is an error naming file:line and the field.
printf '{"timestamp": 0.5, "input_length": 10, "output_length": 5}\n# a comment\n{"timestamp": 0, "input_length": 20, "output_length": 7}\n' >"$work/good.jsonl"
printf '{"timestamp": 0, "input_length": 10, "output_length": 5}\n{"timestamp": 1, "input_length": "x", "output_length": 5}\n' >"$work/bad.jsonl"
for t in good bad; do
  cat >"$work/$t-trace.yaml" <<YAML
benchmark: {name: trace, duration: 10}
target: {endpoint: http://127.0.0.1:8000/v1/completions, model: m}
load: {type: trace, trace: "$work/$t.jsonl"}
YAML
done
if run 0 --config "$work/good-trace.yaml"; then
  expect_in out "2 records" "trace summary"
fi
if run 2 --config "$work/bad-trace.yaml"; then
  expect_in err "bad.jsonl:2: input_length must be a positive integer" "trace error"
  expect_in err "nothing was sent" "trace error"
fi

# 8. The files workers would read are read here: a dataset that is missing or malformed and a
# CA that is not PEM are errors naming the field; good ones are listed; the endpoint is not
# checked, and validate says so.
printf '[{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello there"}]}]\n' >"$work/share.json"
printf 'not json\n' >"$work/broken.json"
printf 'not a certificate\n' >"$work/bad-ca.pem"
for d in share broken missing; do
  cat >"$work/$d-data.yaml" <<YAML
benchmark: {name: data}
target: {endpoint: http://127.0.0.1:8000/v1/chat/completions, model: m}
load: {type: concurrency, concurrency: 2}
prompts: {type: shareGPT, dataset: "$work/$d.json"}
YAML
done
if run 0 --config "$work/share-data.yaml"; then
  expect_in out "prompts.dataset $work/share.json: 1 prompts" "dataset checked"
  expect_in out "not checked: the endpoint" "the endpoint is not checked"
fi
if run 2 --config "$work/missing-data.yaml"; then
  expect_in err "prompts.dataset: " "missing dataset"
  expect_in err "missing.json" "missing dataset path"
fi
if run 2 --config "$work/broken-data.yaml"; then
  expect_in err "prompts.dataset: " "malformed dataset"
fi
if run 2 --config "$work/share-data.yaml" --set "target.tls.caFile=$work/bad-ca.pem"; then
  expect_in err "target.tls.caFile: " "bad CA"
fi

echo "validate_cli: $checks checks, $failures failure(s)"
[ "$failures" -eq 0 ]
