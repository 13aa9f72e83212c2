#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds crema and runs every test (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh "$@"
ctest --test-dir build --output-on-failure -j 2
