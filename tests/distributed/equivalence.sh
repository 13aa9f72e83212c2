#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Data-parallel training computes what one process computes: after 20 iterations,
#   mpirun -np 2 with batch b == one process with batch b and iter_size 2 (SGD and Adam; a net
#   with BatchNorm, whose batch statistics are per b images in both; its running statistics are
#   per rank and not compared), and
#   mpirun -np 2 with batch b == one process with batch 2b (a net without BatchNorm), whose test
#   scores (test_iter split over the ranks, then summed) must match too, and
#   mpirun -np 2 with batch b and batch_norm_param { sync: true } == one process with batch 2b.
# A control proves the comparison can fail: 2 ranks against one process without iter_size.
#   usage: equivalence.sh CREMA_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
cd "$work" || exit 1
write_net bn.prototxt 8 1
write_net plain8.prototxt 8 0
write_net plain16.prototxt 16 0

train() {  # train LOG RANKS SOLVER
  if [ "$2" = 1 ]; then
    "$crema" train -solver "$3" > "$1" 2>&1 || { cat "$1"; fail "crema train -solver $3"; }
  else
    mpi -np "$2" "$crema" train -solver "$3" > "$1" 2>&1 || { cat "$1"; fail "mpirun -np $2 crema train -solver $3"; }
  fi
}

for rule in SGD Adam; do
  write_solver "ranks_$rule.prototxt" bn.prototxt "out/ranks_$rule" "$rule" 1
  write_solver "iter_size_$rule.prototxt" bn.prototxt "out/iter_size_$rule" "$rule" 2
  train "ranks_$rule.log" 2 "ranks_$rule.prototxt"
  train "iter_size_$rule.log" 1 "iter_size_$rule.prototxt"
  grep -q "Batch: 16 images an iteration (batch size 8 x 2 ranks)" "ranks_$rule.log" ||
    fail "the 2-rank log does not give the global batch"
  echo "$rule, 2 ranks x batch 8 vs 1 process x batch 8 x iter_size 2:"
  compare "out/ranks_${rule}_iter_20.caffemodel" "out/iter_size_${rule}_iter_20.caffemodel" \
    --skip-type BatchNorm || fail "$rule: 2 ranks and iter_size 2 trained other weights"
done

echo "control: 2 ranks vs 1 process without iter_size (must differ):"
write_solver control.prototxt bn.prototxt out/control SGD 1
train control.log 1 control.prototxt
compare out/ranks_SGD_iter_20.caffemodel out/control_iter_20.caffemodel --skip-type BatchNorm \
  --expect-differ || fail "the comparison cannot tell 2 ranks from one process"

write_solver plain_ranks.prototxt plain8.prototxt out/plain_ranks SGD 1
write_solver plain_batch.prototxt plain16.prototxt out/plain_batch SGD 1
train plain_ranks.log 2 plain_ranks.prototxt
train plain_batch.log 1 plain_batch.prototxt
echo "no BatchNorm, 2 ranks x batch 8 vs 1 process x batch 16:"
compare out/plain_ranks_iter_20.caffemodel out/plain_batch_iter_20.caffemodel ||
  fail "2 ranks and batch 16 trained other weights"
# The test passes over 50 images (5 batches: 3 on rank 0, 2 on rank 1) score what one process
# scores: the metrics files' test records agree.
python3 - out/plain_ranks_metrics.jsonl out/plain_batch_metrics.jsonl <<'PY' || fail "test scores differ"
import json, sys
def tests(path):
    return [r for r in map(json.loads, open(path)) if "test_net" in r]
a, b = tests(sys.argv[1]), tests(sys.argv[2])
assert len(a) == len(b) == 3, (a, b)
for ra, rb in zip(a, b):
    for key in ("accuracy", "loss"):
        assert abs(ra[key] - rb[key]) <= 1e-4 * max(1, abs(rb[key])), (ra, rb)
print("test scores agree:", [(r["iter"], r["accuracy"], r["loss"]) for r in a])
PY
# batch_norm_param { sync: true }: statistics over both ranks' 16 images, as one process with
# batch 16 computes them, running statistics included (every blob compared); without sync the
# same run differs (the control).
write_net sync8.prototxt 8 3
write_net bn8.prototxt 8 2
write_net bn16.prototxt 16 2
write_solver sync_ranks.prototxt sync8.prototxt out/sync_ranks SGD 1
write_solver nosync_ranks.prototxt bn8.prototxt out/nosync_ranks SGD 1
write_solver bn_batch.prototxt bn16.prototxt out/bn_batch SGD 1
train sync_ranks.log 2 sync_ranks.prototxt
train nosync_ranks.log 2 nosync_ranks.prototxt
train bn_batch.log 1 bn_batch.prototxt
echo "BatchNorm sync, 2 ranks x batch 8 vs 1 process x batch 16 (running statistics too):"
compare out/sync_ranks_iter_20.caffemodel out/bn_batch_iter_20.caffemodel ||
  fail "synchronised BatchNorm on 2 ranks differs from batch 16"
echo "control: BatchNorm without sync, 2 ranks x batch 8 vs batch 16 (must differ):"
compare out/nosync_ranks_iter_20.caffemodel out/bn_batch_iter_20.caffemodel --expect-differ ||
  fail "per-rank BatchNorm statistics cannot be told from synchronised ones"

# Rank 0 alone writes: no second metrics file, one log's worth of lines.
[ "$(grep -c "Iteration 10, Testing net" plain_ranks.log)" = 1 ] || fail "more than one rank logged"
echo "PASS"
