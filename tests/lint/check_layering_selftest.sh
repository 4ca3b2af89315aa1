#!/usr/bin/env bash
# Proves the layering lint can fail: a tree with known violations must be rejected, one line per
# violation, and a clean tree accepted.
set -euo pipefail
lint=$(dirname "$0")/check_layering.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{common,worker/engine,controller,sim,tests}
printf '#include "common/clock.h"\n#include <string>\n' > "$tmp/common/ok.cc"
printf '#include "common/clock.h"\n' > "$tmp/controller/ok.cc"
printf '#include "worker/rpc_agent.h"\n' > "$tmp/controller/local_workers.cc"
bash "$lint" "$tmp" >/dev/null || { echo "selftest: clean tree rejected"; exit 1; }

printf '#include "worker/engine/loop.h"\n' > "$tmp/common/bad1.cc"
printf '#include "bench.pb.h"\n' > "$tmp/worker/engine/bad2.cc"
printf '  #include <yaml-cpp/yaml.h>\n' > "$tmp/controller/bad3.cc"
printf '#include "worker/link.h"\n' > "$tmp/controller/bad4.cc"
printf '#include "worker/rpc_agent.h"\n#include "worker/engine/engine.h"\n' > "$tmp/controller/local_workers.cc"
out=$(bash "$lint" "$tmp" || true)
for needle in common/bad1.cc worker/engine/bad2.cc controller/bad3.cc controller/bad4.cc \
  controller/local_workers.cc:2; do
  grep -q "$needle" <<<"$out" || { echo "selftest: $needle not reported"; echo "$out"; exit 1; }
done
grep -q "5 violation" <<<"$out" || { echo "selftest: expected 5 violations"; echo "$out"; exit 1; }
echo "selftest: ok"
