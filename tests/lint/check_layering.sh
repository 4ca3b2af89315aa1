#!/usr/bin/env bash
# Keeps the layers of STYLE.md honest. Every header is in /usr/include, so a stray include would
# compile anyway; this checks the #include lines of every source file against the rules below.
# Usage: check_layering.sh ROOT   (exit 1 and one line per violation)
set -euo pipefail
root=${1:?usage: check_layering.sh ROOT}
cd "$root"

violations=0
report() {  # file:line: include  -- rule
  echo "$1: $2  -- $3"
  violations=$((violations + 1))
}

# forbid <path-regex> <include-regex> <why> [exempt-file-regex]
forbid() {
  local scope=$1 pattern=$2 why=$3 exempt=${4:-^$}
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    local file=${hit%%:*}
    [[ "$file" =~ $exempt ]] && continue
    local rest=${hit#*:}
    report "$file:${rest%%:*}" "${rest#*:}" "$why"
  done < <(find common worker controller sim tests -type f \( -name '*.cc' -o -name '*.h' \) \
             -not -path '*/node_modules/*' 2>/dev/null | grep -E "$scope" | sort |
           xargs -r grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" || true)
}

# 1. Arrows point one way.
forbid '^common/' 'worker/|controller/|sim/' "common/ is the leaf layer"
forbid '^worker/' 'controller/|sim/' "worker/ never includes controller/ or sim/"
forbid '^worker/engine/' 'worker/[a-z_]+\.h' "the engine must not include the worker above it"
forbid '^controller/' 'worker/|sim/' "controller/ never includes worker/ or sim/ (the in-process workers of \`run\` are reached through controller/local_workers.* only)" '^controller/local_workers\.cc$'
forbid '^controller/local_workers\.cc$' 'worker/engine/|worker/share' "controller/local_workers.cc may use the worker agent (worker/rpc_agent.h) only"
forbid '^sim/' 'controller/|worker/[a-z_]+\.h' "sim/ may use worker/engine/ pieces only"

# 2. Generated protobuf/gRPC types stay in edge files.
forbid '^common/' '.*\.pb\.h|grpc|grpcpp/|google/protobuf/' \
  "only common/rpc_* files see gRPC/protobuf" '^common/rpc_'
forbid '^worker/engine/' '.*\.pb\.h|grpc|grpcpp/|google/protobuf/' "the engine knows nothing of gRPC"
forbid '^worker/' '.*\.pb\.h|grpcpp/|google/protobuf/' \
  "only the worker's rpc edge files see protobuf" '^worker/(engine/.*|.*rpc.*)$'
forbid '^sim/' '.*\.pb\.h|grpcpp/|google/protobuf/' "bench-sim does not speak gRPC"

# 3. One owner per third-party library.
forbid '.' 'yaml-cpp/' "yaml-cpp belongs to common/config_yaml.cc and sim/sim_config_yaml.cc" '^(common/config_yaml|sim/sim_config_yaml)\.cc$'
forbid '.' 'uv\.h' "libuv belongs to worker/engine/" '^(worker/engine/|tests/fuzz/)'
forbid '.' 'nghttp2/' "nghttp2 belongs to worker/engine/" '^(worker/engine/|tests/fuzz/)'
forbid '.' 'http_parser\.h' "http-parser belongs to worker/engine/" '^(worker/engine/|tests/fuzz/)'
forbid '.' 'prometheus/' "prometheus-cpp lives in one exporter file per binary" \
  '^(controller|sim|worker)/[a-z_]*metrics_exporter\.(cc|h)$'

if [ "$violations" -gt 0 ]; then
  echo "layering: $violations violation(s)"
  exit 1
fi
echo "layering: ok ($(find common worker controller sim tests -type f \( -name '*.cc' -o -name '*.h' \) -not -path '*/node_modules/*' | wc -l) files)"
