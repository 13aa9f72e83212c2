#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A real crema training log read with Caffe's parse_log.py / parse_log.sh rules
# (parse_log_check.py restates them): the rows they build hold the metrics file's iterations,
# losses, rates and test outputs, and every line carries glog's prefix with a real source line.
#   usage: parse_log_test.sh CREMA_BINARY SOURCE_DIR
set -uo pipefail
crema=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$src/tests/tools/monitoring_run.sh"
write_run "$work" 0.01
"$crema" train -solver "$work/solver.prototxt" -threads 1 -log_file "$work/train.log" \
  > /dev/null 2> "$work/stderr" || { cat "$work/stderr"; fail "train failed"; }
python3 "$src/tests/tools/parse_log_check.py" "$work/train.log" "$work/run/tiny_metrics.jsonl" ||
  fail "the log does not read as Caffe's parsers expect"
echo PASS
