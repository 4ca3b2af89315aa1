#!/usr/bin/env bash
# The README's first command: sets up the machine, builds, and runs the main job.
# Today the load engine is not built yet, so the main job validates an example benchmark and
# prints its resolved plan (no traffic is sent). Usage: scripts/quickstart.sh [config.yaml]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
config=${1:-deploy/examples/throughput.yaml}

bash scripts/setup.sh
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target bench-controller bench-worker bench-sim
echo
echo "== bench-controller validate --config $config"
build/controller/bench-controller validate --config "$config"
