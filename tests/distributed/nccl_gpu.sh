#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# GPUs: `mpirun -np 2 crema train -gpu all` (one GPU a rank, gradients summed by NCCL on the
# compute stream) trains the weights one process on one GPU trains with iter_size 2.
# Skipped without two GPUs.   usage: nccl_gpu.sh CREMA_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
gpus=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU')
[ "$gpus" -ge 2 ] || skip "needs two GPUs, found ${gpus:-0}"
cd "$work" || exit 1
write_net bn.prototxt 8 1
write_solver ranks.prototxt bn.prototxt out/ranks SGD 1
write_solver iter_size.prototxt bn.prototxt out/iter_size SGD 2
mpi -np 2 "$crema" train -solver ranks.prototxt -gpu all > ranks.log 2>&1 ||
  { cat ranks.log; fail "mpirun -np 2 crema train -gpu all"; }
"$crema" train -solver iter_size.prototxt -gpu 0 > iter_size.log 2>&1 ||
  { cat iter_size.log; fail "crema train -gpu 0"; }
compare out/ranks_iter_20.caffemodel out/iter_size_iter_20.caffemodel --skip-type BatchNorm \
  --rtol 1e-3 --atol 1e-4 || fail "2 GPUs and iter_size 2 trained other weights"
echo "PASS"
