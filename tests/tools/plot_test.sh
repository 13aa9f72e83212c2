#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# crema plot on two short real runs: one PNG, four panels with one curve per run named in the
# legend, the runs' points (plot_check.py); bad -log values and a python without matplotlib get
# clear errors. Skipped where no python here imports matplotlib.
#   usage: plot_test.sh CREMA_BINARY SOURCE_DIR
set -uo pipefail
crema=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$src/tests/tools/monitoring_run.sh"
py=""
for p in python3 /usr/bin/python3; do
  "$p" -c "import matplotlib" 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || { echo "SKIP: no python here imports matplotlib (Debian: python3-matplotlib)"; exit 77; }

# Two runs, two learning rates, in folders named after them.
for lr in 0.01 0.05; do
  write_run "$work/cfg$lr" "$lr"
  sed -i "s|snapshot_prefix: .*|snapshot_prefix: \"$work/lr$lr/tiny\"|" "$work/cfg$lr/solver.prototxt"
  "$crema" train -solver "$work/cfg$lr/solver.prototxt" -threads 1 > /dev/null 2> "$work/log$lr" ||
    { cat "$work/log$lr"; fail "train lr $lr failed"; }
done
(cd "$work" && "$crema" plot -log lr0.01 lr0.05/ -out curves.png) > "$work/plot.out" 2>&1 ||
  { cat "$work/plot.out"; fail "crema plot failed"; }
[ "$(stat -c %s "$work/curves.png")" -gt 20000 ] || fail "curves.png is $(stat -c %s "$work/curves.png") bytes"
"$py" "$src/tests/tools/plot_check.py" "$work/curves.png" "$src" \
  lr0.01 "$work/lr0.01/tiny_metrics.jsonl" lr0.05 "$work/lr0.05/tiny_metrics.jsonl" ||
  fail "the PNG is not the runs' curves"

# A metrics file given as such, -log repeated, the default -out.
(cd "$work" && "$crema" plot -log lr0.01/tiny_metrics.jsonl -log lr0.05) > /dev/null 2>&1 &&
  [ -s "$work/curves.png" ] || fail "-log FILE -log DIR failed"

# Clear errors, and no PNG.
expect_error() {  # expect_error WANTED_TEXT ARGS...
  local want=$1; shift
  out=$(cd "$work" && "$@" 2>&1) && fail "'$*' succeeded"
  echo "$out" | grep -qF -- "$want" || fail "'$*' said: $out (wanted: $want)"
}
mkdir -p "$work/empty"
expect_error "-log DIR is required" "$crema" plot -out x.png
expect_error "-log nowhere: no such file or directory" "$crema" plot -log nowhere -out x.png
expect_error "-log empty: no metrics file in it" "$crema" plot -log empty -out x.png
expect_error "-out nodir/x.png: no directory nodir" "$crema" plot -log lr0.01 -out nodir/x.png
printf '#!/bin/sh\nexec %s -S "$@"\n' "$(command -v "$py")" > "$work/bare_python"  # no site-packages
chmod +x "$work/bare_python"
expect_error "no python here can import (tried $work/bare_python)" \
  env CREMA_PYTHON="$work/bare_python" "$crema" plot -log lr0.01 -out x.png
[ -e "$work/x.png" ] && fail "a failed crema plot wrote x.png"
echo PASS
