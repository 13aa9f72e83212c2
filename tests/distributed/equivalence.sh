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

train() {  # train LOG RANKS SOLVER [FLAGS...]
  local log=$1 ranks=$2 solver=$3
  shift 3
  if [ "$ranks" = 1 ]; then
    "$crema" train -solver "$solver" "$@" > "$log" 2>&1 || { cat "$log"; fail "crema train -solver $solver"; }
  else
    mpi -np "$ranks" "$crema" train -solver "$solver" "$@" > "$log" 2>&1 ||
      { cat "$log"; fail "mpirun -np $ranks crema train -solver $solver $*"; }
  fi
}
# How the gradients travel must not change them: SGD in one bucket started during the backward
# pass (the default), Adam in buckets of 1 KB (several, each started as soon as its layers are
# done: a bucket sent early would carry half a gradient), the net without BatchNorm all after it.
declare -A flags=([SGD]="" [Adam]="-bucket_mb 0.001")

for rule in SGD Adam; do
  write_solver "ranks_$rule.prototxt" bn.prototxt "out/ranks_$rule" "$rule" 1
  write_solver "iter_size_$rule.prototxt" bn.prototxt "out/iter_size_$rule" "$rule" 2
  # shellcheck disable=SC2086
  train "ranks_$rule.log" 2 "ranks_$rule.prototxt" ${flags[$rule]}
  train "iter_size_$rule.log" 1 "iter_size_$rule.prototxt"
  grep -q "Batch: 16 images an iteration (batch size 8 x 2 ranks)" "ranks_$rule.log" ||
    fail "the 2-rank log does not give the global batch"
  grep -o "gradients summed in [0-9]* bucket(s)" "ranks_$rule.log"
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
train plain_ranks.log 2 plain_ranks.prototxt -allreduce_overlap false
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
# The Data layer (LMDB, read in key order): rank r skips the other ranks' batches, so 2 ranks x
# batch 8 read what batch 16 reads, across the wrap at the end of its 200 records too.
fm=/usr/share/datasets/fashion-mnist
"$crema" convert -format mnist -images "$fm/train-images-idx3-ubyte.gz" \
  -labels "$fm/train-labels-idx1-ubyte.gz" -max_images 200 -output lmdb > convert.log 2>&1 ||
  { cat convert.log; fail "crema convert"; }
for b in 8 16; do
  write_net "lmdb$b.prototxt" "$b" 0
  sed -i "s|type: \"MNISTData\" top: \"data\" top: \"label\" include { phase: TRAIN }|type: \"Data\" top: \"data\" top: \"label\" include { phase: TRAIN }|; s|mnist_data_param { split: \"train\" batch_size: $b max_images: 200 *}|data_param { source: \"lmdb\" backend: LMDB batch_size: $b }|" "lmdb$b.prototxt"
  grep -q 'data_param { source: "lmdb"' "lmdb$b.prototxt" || fail "writing the LMDB net"
done
write_solver lmdb_ranks.prototxt lmdb8.prototxt out/lmdb_ranks SGD 1
write_solver lmdb_batch.prototxt lmdb16.prototxt out/lmdb_batch SGD 1
sed -i 's/max_iter: 20/max_iter: 16/; s/snapshot: 10/snapshot: 16/' lmdb_ranks.prototxt lmdb_batch.prototxt
train lmdb_ranks.log 2 lmdb_ranks.prototxt
train lmdb_batch.log 1 lmdb_batch.prototxt
echo "Data (LMDB), 2 ranks x batch 8 vs 1 process x batch 16, 16 iterations (past the wrap):"
compare out/lmdb_ranks_iter_16.caffemodel out/lmdb_batch_iter_16.caffemodel ||
  fail "2 ranks reading LMDB trained other weights than batch 16"

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
