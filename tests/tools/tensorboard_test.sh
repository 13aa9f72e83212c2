#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The TensorBoard event files crema train writes, read back by TensorBoard's own reader
# (EventAccumulator, from PyPI's tensorboard in .venv-tensorboard/, which
# scripts/tensorboard_venv.sh creates; skipped, with the reason, when it cannot): the same scalars
# at the same iterations as the metrics file, after a fresh run and after a resume that replaces
# the iterations past its snapshot; -tensorboard false writes none.
#   usage: tensorboard_test.sh CREMA_BINARY SOURCE_DIR
set -uo pipefail
crema=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$src/tests/tools/monitoring_run.sh"
py=$(bash "$src/scripts/tensorboard_venv.sh" 2> "$work/venv.err") ||
  { echo "SKIP: no TensorBoard to read the event files with: $(tail -1 "$work/venv.err")"; exit 77; }
check() { "$py" "$src/tests/tools/tensorboard_check.py" "$@"; }

write_run "$work" 0.01
# 1. A fresh run: one event file beside the metrics file, the log says where.
"$crema" train -solver "$work/solver.prototxt" -threads 1 > /dev/null 2> "$work/log" ||
  { cat "$work/log"; fail "train failed"; }
grep -q "\] TensorBoard: events.out.tfevents.\* in $work/run (tensorboard --logdir $work/run)" "$work/log" ||
  fail "no TensorBoard line in the log: $(grep -E 'Metrics|TensorBoard' "$work/log")"
check "$work/run" "$work/run/tiny_metrics.jsonl" --files 1 || fail "fresh run"

# 2. Resumed at iteration 30 and stopped at 50: the metrics file drops the first run's records
# from 30 on; TensorBoard must show the same (SessionLog START at 30 in the second file).
"$crema" train -solver "$work/solver.prototxt" -snapshot "$work/run/tiny_iter_30.solverstate" \
  -iterations 50 -threads 1 > /dev/null 2> "$work/resume" || { cat "$work/resume"; fail "resume failed"; }
grep -q '"iter":60' "$work/run/tiny_metrics.jsonl" && fail "the metrics file kept the first run's iteration 60"
check "$work/run" "$work/run/tiny_metrics.jsonl" --files 2 || fail "resumed run"

# 3. -tensorboard false: the metrics file alone.
sed -i "s|snapshot_prefix: .*|snapshot_prefix: \"$work/off/tiny\"|" "$work/solver.prototxt"
"$crema" train -solver "$work/solver.prototxt" -iterations 10 -tensorboard false -threads 1 \
  > /dev/null 2> "$work/off.log" || { cat "$work/off.log"; fail "-tensorboard false failed"; }
[ -s "$work/off/tiny_metrics.jsonl" ] || fail "-tensorboard false: no metrics file"
ls "$work/off" | grep -q tfevents && fail "-tensorboard false wrote an event file: $(ls "$work/off")"
grep -q "\] TensorBoard: off (-tensorboard false)" "$work/off.log" || fail "no 'TensorBoard: off' line"
echo "PASS"
