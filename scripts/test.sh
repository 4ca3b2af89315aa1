#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), builds and runs the whole test suite with ctest.
#   scripts/test.sh            GCC build (-Werror) + ctest
#   scripts/test.sh --all      also ASan+UBSan build + ctest, a clang ThreadSanitizer build of
#                              the multi-threaded tests, and a clang libFuzzer
#                              build with a short run of every fuzz target (CI=true: --all)
# Build trees: build/ (gcc), build-asan/, build-tsan/, build-fuzz/. ccache makes rebuilds fast.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

all=false
[ "${CI:-}" = "true" ] && all=true
for arg in "$@"; do
  case "$arg" in
    --all) all=true ;;
    --quick) all=false ;;
    *) echo "usage: scripts/test.sh [--all|--quick]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1 CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
jobs=2

build() {  # build <dir> <cmake args...>
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DBENCH_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

run_ctest() {  # run_ctest <dir> <label> [ctest args...]
  local dir=$1 label=$2
  shift 2
  echo "== ctest ($label)"
  (cd "$dir" && ctest --no-tests=error --output-on-failure -j"$jobs" "$@")
}

start=$(date +%s)
echo "== build (gcc, RelWithDebInfo)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_ctest build gcc

if $all; then
  echo "== build (gcc, ASan+UBSan)"
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DBENCH_SANITIZE=ON -DBENCH_BUILD_PERF=OFF
  # The sanitizer build checks memory and undefined behaviour. Tests that assert timing to the
  # millisecond (the simulator's TTFT/ITL precision, the prefix cache's saved prefill time) are
  # checked in the optimized build above; in an unoptimized, instrumented build they would only
  # measure the instrumentation. So is the 50-process scale test (50 instrumented gRPC processes
  # measure memory, not the code), the peak-RSS test, and the clock-skew test (faketime is an
  # LD_PRELOAD library, and ASan's runtime must come first).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build-asan asan+ubsan \
    -E '^lint\.|Timing|PrefixCacheSkipsPrefill|run_truth|cluster_scale|bounded_memory|clock_skew'

  echo "== build (clang, ThreadSanitizer): the multi-threaded tests"
  # The engine's threads, the simulator's workers, the coordinator's ticker, exporter and
  # watchers. Not the gRPC processes: Debian's gRPC is not instrumented, and TSan reports its
  # inlined header code racing with the library's invisible synchronisation. Timing assertions
  # are left to the optimized build.
  cmake -S . -B build-tsan -G Ninja -DBENCH_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DBENCH_TSAN=ON \
    -DBENCH_BUILD_PERF=OFF >/dev/null
  tsan_tests=(worker/engine/bench_engine_load_test worker/engine/bench_http_client_test
    worker/engine/bench_engine_net_test sim/bench_sim_server_test controller/bench_controller_test)
  cmake --build build-tsan -j"$jobs" --target "${tsan_tests[@]##*/}"
  for test in "${tsan_tests[@]}"; do
    echo "== tsan ${test##*/}"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" BENCH_SOURCE_DIR="$root" \
      "build-tsan/$test" --gtest_filter='-*Timing*'
  done

  echo "== build (clang, libFuzzer)"
  cmake -S . -B build-fuzz -G Ninja -DBENCH_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DBENCH_FUZZ=ON \
    -DBENCH_BUILD_PERF=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzzers
  for fuzzer in build-fuzz/tests/fuzz/*_fuzz; do
    name=$(basename "$fuzzer" _fuzz)
    scratch=$(mktemp -d)
    echo "== fuzz $name (20 s)"
    rc=0
    "$fuzzer" -max_total_time=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$scratch/" "$scratch" "tests/fuzz/corpus/$name" >"$scratch/log" 2>&1 || rc=$?
    grep -aE '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$scratch/log" || true
    if [ "$rc" -ne 0 ]; then
      tail -40 "$scratch/log"
      echo "fuzz $name failed (exit $rc); reproducer in $scratch"
      exit 1
    fi
    rm -rf "$scratch"
  done
fi
echo "== all tests passed in $(( $(date +%s) - start )) s"
