#!/usr/bin/env bash
# Runs openai_client_test.js (the official OpenAI client from npm) against a fresh bench-sim.
# Usage: openai_client_test.sh BENCH_SIM_BINARY NODE NODE_MODULES_DIR
set -euo pipefail
BENCH_SIM=${1:?usage: openai_client_test.sh BENCH_SIM NODE NODE_MODULES_DIR}
NODE=${2:?node}
NODE_MODULES=${3:?node_modules directory}
source "$(dirname "$0")/sim_lib.sh"
[ -d "$NODE_MODULES/openai" ] || fail "the npm package openai is not installed in $NODE_MODULES"
start_sim openai --ttft 5ms --itl 1ms
SIM_URL="http://127.0.0.1:$SIM_PORT_openai/v1" NODE_PATH="$NODE_MODULES" \
  "$NODE" "$(dirname "$0")/openai_client_test.js"
stop_sim openai
