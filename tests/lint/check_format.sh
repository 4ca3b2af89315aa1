#!/usr/bin/env bash
# Fails when a C++ source is not formatted with the repository's .clang-format.
# Usage: check_format.sh ROOT    Fix with: scripts/format.sh
set -euo pipefail
root=${1:?usage: check_format.sh ROOT}
cd "$root"
formatter=$(command -v clang-format || command -v clang-format-14 || true)
if [ -z "$formatter" ]; then
  echo "format: clang-format not installed (scripts/setup.sh installs it)"
  exit 1
fi
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cc' '*.h' 2>/dev/null ||
                     find common worker controller sim tests -name '*.cc' -o -name '*.h')
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! "$formatter" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ "${#bad[@]}" -gt 0 ]; then
  printf 'format: not clang-formatted: %s\n' "${bad[@]}"
  echo "format: run scripts/format.sh"
  exit 1
fi
echo "format: ok (${#files[@]} files)"
