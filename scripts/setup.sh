#!/usr/bin/env bash
# Installs everything llm-d-bench needs on Debian 12: compilers, libraries, test peers and the
# npm packages the interop tests use. Idempotent; run as root (or with sudo available).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git clang clang-format clang-tidy
  libclang-rt-14-dev lld
  # libraries (see BUILD.md for how each is found)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libnghttp2-dev libuv1-dev prometheus-cpp-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  libbenchmark-dev libssl-dev zlib1g-dev libzstd-dev nlohmann-json3-dev libsimdjson-dev
  libhttp-parser-dev
  # peers and tools used by tests and benchmarks
  nodejs npm nginx libnginx-mod-http-echo nghttp2-client nghttp2-server curl openssl
  procps
  # the Prometheus server (2.42) that scrapes bench-controller's /metrics in integration.prometheus
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian (the machine image has node 20): keep it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages already installed"
fi

# nginx from Debian starts itself on install; tests start their own instances on free ports.
# The same for prometheus (its service would scrape nothing of ours and hold port 9090).
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

# npm packages for interop tests (versions pinned by tests/node/package-lock.json).
if [ ! -d "$here/tests/node/node_modules/hdr-histogram-js" ] || \
   [ "$here/tests/node/package-lock.json" -nt "$here/tests/node/node_modules/.package-lock.json" ]; then
  echo "setup: installing npm packages in tests/node"
  (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "setup: npm packages already installed"
fi
echo "setup: done"
