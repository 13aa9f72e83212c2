#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tools/experiments end to end: the unit tests of the metrics parsing and the "reproduced?" rule
# (synthetic data), the plan of --dry-run, then `run_experiments.py --quick --claims 3` (the
# cheapest claim: 4 short runs of ResNet-8, under 2 minutes at -threads 1) into a temporary
# directory, checking the report, its table and the raw metrics files.
#   usage: quick_test.sh CREMA_BINARY [SOURCE_DIR]
set -uo pipefail
crema=${1:?usage: quick_test.sh CREMA_BINARY [SOURCE_DIR]}
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
data=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }

python3 "$src/tests/experiments/test_expmetrics.py" || fail "unit tests (test_expmetrics.py)"

[ -f $data/train-images-idx3-ubyte.gz ] || [ -f $data/train-images-idx3-ubyte ] || {
  echo "SKIP: no Fashion-MNIST in $data"; exit 77; }
[ -x "$crema" ] || fail "no crema binary at $crema"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runner="$src/tools/experiments/run_experiments.py"

plan=$(python3 "$runner" --quick --dry-run --crema "$crema") || fail "--dry-run"
echo "$plan" | grep -q "^mode quick: 10 grid runs + 38 arm runs" || fail "--dry-run plan: $plan"
echo "$plan" | grep -q "claim3/bn_after_seed2 .*ResNet-8 BN after add" || fail "--dry-run lists claim 3's arms"
python3 "$runner" --claims 6 --dry-run >/dev/null 2>&1 && fail "--claims 6 accepted"

python3 "$runner" --quick --claims 3 --crema "$crema" --threads 1 --out "$work/out" --run-dir "$work/run" \
  > "$work/stdout" 2> "$work/stderr" || { cat "$work/stderr"; fail "run_experiments.py --quick --claims 3"; }
cat "$work/stderr" "$work/stdout"
report=$work/out/report.md
[ -s "$report" ] || fail "no report"
[ -s "$work/out/results.json" ] || fail "no results.json"
for arm in bn_before bn_after; do
  for seed in 1 2; do
    m=$work/out/metrics/claim3/${arm}_seed$seed.jsonl
    [ -s "$m" ] || fail "no metrics file $m"
    grep -q '"test_net":0,' "$m" || fail "$m has no test pass"
    grep -q '"test_net":1,' "$m" || fail "$m has no training-slice pass"
    grep -q '"images_per_s"' "$m" || fail "$m has no training display"
    grep -q '"iter":60,"test_net":0' "$m" || fail "$m has no final test pass"
  done
done
# The results table: one row per arm, with numbers (mean ± spread) and the verdict.
grep -Eq '^\| 3\. BN before the addition beats BN after it \| ResNet-8, BN before add \(standard\) \| [0-9.]+ M \| SGD\+momentum, 0\.1 \| [0-9.]+ ± [0-9.]+ \|.*\*\*(yes|no|inconclusive)\*\* \|$' "$report" \
  || fail "report table: no row for the standard arm"
grep -Eq '^\|  \| ResNet-8, BN after add \| [0-9.]+ M \| SGD\+momentum, 0\.1 \| [0-9.]+ ± [0-9.]+ \|' "$report" \
  || fail "report table: no row for the BN-after-add arm"
grep -Eq '^\| BN before add test error < BN after add \| .* \| (holds|ordered within spread|reversed within spread|contradicted) \|$' "$report" \
  || fail "report: no check line"
grep -q "Reproduced at this scale: \*\*" "$report" || fail "report: no verdict"
grep -q "Expected full-mode wall time" "$report" || fail "report: no full-mode estimate"
grep -Eq "^claim 3: .*reproduced at this scale\? (yes|no|inconclusive)$" "$work/stdout" || fail "no verdict on stdout"
if grep -q "plots drawn with" "$report"; then
  [ -s "$work/out/claim3.png" ] || fail "report says plots were drawn, no claim3.png"
fi

# A second invocation reuses the finished runs (same solver and net) instead of training again.
python3 "$runner" --quick --claims 3 --crema "$crema" --threads 1 --out "$work/out" --run-dir "$work/run" \
  > /dev/null 2> "$work/stderr2" || fail "second invocation"
[ "$(grep -c ', reused)' "$work/stderr2")" = 4 ] || { cat "$work/stderr2"; fail "finished runs were not reused"; }
# --report-only renders the same report again from results.json, training nothing.
cp "$report" "$work/report_before.md"
rm "$report"
python3 "$runner" --quick --report-only --crema "$crema" --out "$work/out" --run-dir "$work/run" \
  > /dev/null 2> "$work/stderr3" || { cat "$work/stderr3"; fail "--report-only"; }
[ -s "$report" ] || fail "--report-only wrote no report"
diff <(grep '^|' "$work/report_before.md") <(grep '^|' "$report") > /dev/null \
  || fail "--report-only changed the report's tables"
# GPU runs do not merge into a report of CPU runs: refused before anything trains.
if ! "$crema" device_query > /dev/null 2>&1; then
  # Without a GPU, --gpu is refused up front with crema's reason.
  python3 "$runner" --quick --claims 3 --gpu 0 --crema "$crema" --out "$work/gpu" --run-dir "$work/gpurun" \
    > /dev/null 2> "$work/stderr4" && fail "--gpu 0 accepted without a GPU"
  grep -q "^run_experiments: --gpu 0: " "$work/stderr4" || { cat "$work/stderr4"; fail "--gpu 0: no reason given"; }
  [ ! -e "$work/gpurun/runs" ] || fail "--gpu 0 without a GPU started runs"
else
  python3 "$runner" --quick --claims 3 --gpu 0 --crema "$crema" --out "$work/out" --run-dir "$work/run" \
    > /dev/null 2> "$work/stderr4" && fail "GPU runs merged into the CPU runs' report"
  grep -q "holds runs on the CPU" "$work/stderr4" || { cat "$work/stderr4"; fail "no reason for refusing to merge"; }
fi
echo "PASS: experiments quick (claim 3)"
