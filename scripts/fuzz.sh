#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds the fuzz preset (clang, CPU only, ASan + UBSan, libFuzzer: tests/fuzz) into build-fuzz/,
# writes the seed corpora, then runs each fuzz target in turn and reports its executions and
# findings. Only crashes, sanitizer reports, leaks, hangs (-timeout) and running out of memory
# (-rss_limit_mb, -malloc_limit_mb) are findings: a reader refusing an input with a message is
# what it should do.
#
# usage: scripts/fuzz.sh [-t SECONDS | -n RUNS | --long] [--no-build | --build-only] [TARGET...]
#   -t SECONDS   run each target this long (default 10)
#   -n RUNS      run each target for this many executions
#   --long       run each target for 1,000,000 executions (docs/RELIABILITY.md, "Fuzzing")
#   --no-build   use build-fuzz/ as it is;  --build-only: build, write the seeds, run nothing
#   TARGET       net_prototxt solver_prototxt caffemodel solverstate mnist cifar datum lmdb_check
#                (default: all)
# Corpora grow in build-fuzz/fuzz/corpus/TARGET across runs; findings are written to
# build-fuzz/fuzz/findings/TARGET/ (crash-*, leak-*, timeout-*, oom-*). Reproduce one with
# `CREMA_FUZZ_VERBOSE=1 build-fuzz/bin/fuzz_TARGET FILE`. Exits 1 when any target had a finding.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(net_prototxt solver_prototxt caffemodel solverstate mnist cifar datum lmdb_check)
limit=(-max_total_time=10) build=1 run=1 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) limit=(-max_total_time="$2"); shift ;;
    -n) limit=(-runs="$2"); shift ;;
    --long) limit=(-runs=1000000) ;;
    --no-build) build=0 ;;
    --build-only) run=0 ;;
    -h | --help) sed -n '3,19p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

out=build-fuzz/fuzz
if [ "$build" -eq 1 ]; then
  command -v clang++ > /dev/null || {
    echo "fuzz.sh: clang++ not found (scripts/install_deps.sh installs it)"
    exit 1
  }
  cmake --preset fuzz > build-fuzz-configure.log || { cat build-fuzz-configure.log; exit 1; }
  cmake --build build-fuzz --target crema_fuzz -j "$(nproc)"
  # Seeds: the binary ones written by fuzz_seeds, the repository's own nets and solvers.
  rm -rf "$out/seeds"
  build-fuzz/bin/fuzz_seeds "$out/seeds"
  i=0
  while IFS= read -r -d '' f; do
    case "$f" in
      *solver*) dest=solver_prototxt ;;
      *) [ "$(stat -c %s "$f")" -le 16384 ] || continue; dest=net_prototxt ;;  # the small nets
    esac
    i=$((i + 1))
    cp "$f" "$out/seeds/$dest/$i-$(basename "$f")"
  done < <(git ls-files -z '*.prototxt' 2> /dev/null || find net_defs -name '*.prototxt' -print0)
  # A dictionary of the words the seeds use: field names, enum values, layer types.
  for t in net_prototxt solver_prototxt; do
    cat "$out/seeds/$t"/* | grep -oE '[A-Za-z_][A-Za-z0-9_]*' | sort -u |
      sed 's/.*/"&"/' > "$out/$t.dict"
  done
fi
[ "$run" -eq 1 ] || exit 0
[ -x build-fuzz/bin/fuzz_seeds ] || {
  echo "fuzz.sh: no build-fuzz/ (run without --no-build)"
  exit 1
}

# OpenMP and OpenBLAS each keep one thread: the readers are single-threaded.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
total=0
report=()
for t in "${targets[@]}"; do
  bin=build-fuzz/bin/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz.sh: no $bin (targets: ${all_targets[*]})"; exit 2; }
  mkdir -p "$out/corpus/$t" "$out/findings/$t"
  dict=()
  [ -f "$out/$t.dict" ] && dict=(-dict="$out/$t.dict")
  before=$(find "$out/findings/$t" -type f | wc -l)
  log="$out/$t.log"
  start=$(date +%s)
  set +e
  "$bin" "${limit[@]}" ${dict[@]+"${dict[@]}"} -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/findings/$t/" \
    "$out/corpus/$t" "$out/seeds/$t" > "$log" 2>&1
  rc=$?
  set -e
  seconds=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(($(find "$out/findings/$t" -type f | wc -l) - before))
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi  # a crash with no artifact written
  [ "$found" -eq 0 ] || {
    total=$((total + found))
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5
  }
  report+=("$(printf '%-16s %12s %8s %6s  %s' "$t" "${runs:-?}" "${seconds}s" "$found" "$log")")
done
printf '%-16s %12s %8s %6s  %s\n' target executions time finds log
printf '%s\n' "${report[@]}"
[ "$total" -eq 0 ] || { echo "fuzz.sh: $total finding(s): $out/findings/"; exit 1; }
