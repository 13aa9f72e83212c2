#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The sanitized checks (scripts/test.sh runs them after the ordinary build and tests; CI runs
# test.sh): the CPU-only tree built under AddressSanitizer + UndefinedBehaviorSanitizer (the
# asan-ubsan preset, GCC, into build-asan/) and its tests, then a short run of every fuzz target
# (the fuzz preset, clang: scripts/fuzz.sh, into build-fuzz/).
#
# Left out of the sanitized tests, all run by the ordinary ctest: the GPU tests (a CPU-only
# build), corpus_test (every net of the Caffe corpus built and run: minutes even unsanitized),
# sdk_out_of_tree (installs the SDK and builds a plugin out of tree: a build, not a test of
# crema's code), experiments_quick (trainings; its code is covered by solver_test and
# train_e2e).
#
# usage: scripts/test_sanitized.sh [--no-fuzz] [SECONDS_PER_FUZZ_TARGET (default 5)]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz=1 seconds=5
for a in "$@"; do
  case "$a" in
    --no-fuzz) fuzz=0 ;;
    *) seconds="$a" ;;
  esac
done

start=$(date +%s)
cmake --preset asan-ubsan > build-asan-configure.log || { cat build-asan-configure.log; exit 1; }
cmake --build build-asan -j "$(nproc)"
built=$(date +%s)

# Leaks: only the suppressions in tests/sanitize/lsan.supp (each says why) are ignored.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
crash_on_purpose='convert_test|plugin_verbs_test'
left_out='corpus_test|sdk_out_of_tree|experiments_quick|layer_plugins_gpu_test|solver_gpu_test'
status=0
OMP_WAIT_POLICY=passive ctest --test-dir build-asan --output-on-failure -j 2 \
  -E "^($left_out|$crash_on_purpose)\$" || status=1
# These check that a crash is reported by its signal: `crema convert -verify` names the signal
# its reading child died of inside liblmdb, `crema check-plugin` and `crema time` those of
# plugins that crash on purpose (built without sanitizers, tests/plugins). ASan must leave
# SIGSEGV and SIGBUS to kill the process instead of turning them into a report and exit status 1.
ASAN_OPTIONS="$ASAN_OPTIONS:handle_segv=0:handle_sigbus=0" OMP_WAIT_POLICY=passive \
  ctest --test-dir build-asan --output-on-failure -R "^($crash_on_purpose)\$" || status=1
tested=$(date +%s)

if [ "$fuzz" -eq 1 ]; then
  bash scripts/fuzz.sh -t "$seconds" || status=1
fi
echo "test_sanitized: build $((built - start)) s, tests $((tested - built)) s," \
     "fuzz $(($(date +%s) - tested)) s"
exit "$status"
