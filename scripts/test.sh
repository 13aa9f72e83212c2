#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds crema and runs every test (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh "$@"
# Layout and lint findings in the files changed since origin/main (or the last commit) fail the
# run, after the tests have run too.
style=0
bash scripts/check_style.sh || style=1
# Two test processes share the cores: OpenMP threads must sleep, not spin, while they wait.
OMP_WAIT_POLICY=passive ctest --test-dir build --output-on-failure -j 2
# The CPU tree again under ASan and UBSan with its tests, and each fuzz target for a few seconds.
bash scripts/test_sanitized.sh
[ "$style" -eq 0 ] || { echo "test.sh: scripts/check_style.sh found problems (above)"; exit 1; }
