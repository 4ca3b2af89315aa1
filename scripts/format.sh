#!/usr/bin/env bash
# Formats every C++ source of the repository in place with its .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -co --exclude-standard -- '*.cc' '*.h' | xargs -r clang-format --style=file -i
