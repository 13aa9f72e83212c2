#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds crema and runs every test (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh "$@"
# Two test processes share the cores: OpenMP threads must sleep, not spin, while they wait.
OMP_WAIT_POLICY=passive ctest --test-dir build --output-on-failure -j 2
