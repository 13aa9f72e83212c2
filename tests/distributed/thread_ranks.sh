#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Ranks that are threads of one process: `crema train -gpu 0,1` (a thread a GPU, the gradients
# summed by NCCL on each GPU's compute stream), or `crema train -ranks 2` on the CPU, trains the
# weights one rank trains with iter_size 2; rank 0 alone logs, a control without iter_size
# differs, on GPUs `-gpu all` runs a rank on every GPU, and a rank that fails stops the process
# with its rank (and GPU) named. DummyData draws each batch from the seed and the batch's
# number, so no data set and no MPI are needed. The GPU mode is skipped without two GPUs.
#   usage: thread_ranks.sh CREMA_BINARY SOURCE_DIR cpu|gpu
set -uo pipefail
crema=$(realpath "$1")
src=$(realpath "$2")
mode=${3:-gpu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIPPED: $*"; exit 77; }
compare() { python3 "$src/tests/distributed/compare_caffemodels.py" "$@"; }
if [ "$mode" = gpu ]; then
  gpus=$("$crema" device_query 2> /dev/null | grep -c "^Device id:")
  [ "$gpus" -ge 2 ] || skip "needs two GPUs, found ${gpus:-0}"
  ranks=(-gpu "0,1") one=(-gpu 0) where="2 threads in one process on GPUs 0, 1" rank0="rank 0 (GPU 0)"
  # GPU sums (NCCL's order, cuDNN's algorithms) differ from the CPU's in rounding: the tolerance
  # of the MPI GPU test (nccl_gpu.sh).
  tol=(--rtol 1e-3 --atol 1e-4)
else
  ranks=(-ranks 2 -threads 2) one=(-threads 1) where="2 threads in one process" rank0="rank 0"
  # The same sums in another order: float rounding (the MPI CPU test's tolerance).
  tol=(--rtol 1e-5 --atol 1e-6)
fi
cd "$work" || exit 1

cat > net.prototxt <<'NET'
name: "tiny"
layer { name: "data" type: "DummyData" top: "x" top: "label"
  dummy_data_param { shape { dim: 8 dim: 1 dim: 12 dim: 12 } shape { dim: 8 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "uniform" min: 0 max: 9.99 } } }
layer { name: "conv1" type: "Convolution" bottom: "x" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
NET
write_solver() {  # FILE PREFIX ITER_SIZE
  cat > "$1" <<SOLVER
net: "net.prototxt"
type: "SGD" base_lr: 0.05 momentum: 0.9 weight_decay: 0.0005 lr_policy: "fixed" iter_size: $3
max_iter: 20 display: 5 snapshot: 10 snapshot_prefix: "$2" random_seed: 7
SOLVER
}
write_solver ranks.prototxt out/ranks 1
write_solver iter_size.prototxt out/iter_size 2
write_solver control.prototxt out/control 1
write_solver all.prototxt out/all 1
mkdir -p out

timeout 120 "$crema" train -solver ranks.prototxt "${ranks[@]}" > ranks.log 2>&1 ||
  { cat ranks.log; fail "crema train ${ranks[*]}"; }
grep -q "$where" ranks.log || { cat ranks.log; fail "the log does not say '$where'"; }
grep -q "Batch: 16 images an iteration (batch size 8 x 2 ranks)" ranks.log ||
  fail "the log does not give the global batch"
n=$(grep -c "Iteration 10 (.*), loss = " ranks.log)
[ "$n" = 1 ] || { cat ranks.log; fail "iteration 10's display line came $n times (rank 0 alone logs)"; }
timeout 120 "$crema" train -solver iter_size.prototxt "${one[@]}" > iter_size.log 2>&1 ||
  { cat iter_size.log; fail "crema train ${one[*]} (iter_size 2)"; }
timeout 120 "$crema" train -solver control.prototxt "${one[@]}" > control.log 2>&1 ||
  { cat control.log; fail "crema train ${one[*]} (control)"; }
echo "${ranks[*]} x batch 8 vs ${one[*]} x batch 8 x iter_size 2:"
compare out/ranks_iter_20.caffemodel out/iter_size_iter_20.caffemodel --skip-type BatchNorm \
  "${tol[@]}" || fail "2 ranks in one process and iter_size 2 trained other weights"
echo "control: ${ranks[*]} vs ${one[*]} without iter_size (must differ):"
compare out/ranks_iter_20.caffemodel out/control_iter_20.caffemodel --skip-type BatchNorm \
  "${tol[@]}" --expect-differ || fail "the comparison cannot tell 2 ranks from one"

if [ "$mode" = gpu ]; then
  timeout 120 "$crema" train -solver all.prototxt -gpu all > all.log 2>&1 ||
    { cat all.log; fail "crema train -gpu all"; }
  grep -q "$gpus threads in one process on GPUs 0, 1" all.log ||
    { cat all.log; fail "-gpu all did not run a rank on each of the $gpus GPUs"; }
fi

# Rank 0 cannot write its second snapshot (a directory stands where the file goes): the process
# stops, naming the rank (and its GPU) and the cause, instead of the other rank waiting forever.
write_solver fail.prototxt out/fail 1
mkdir -p out/fail_iter_10.caffemodel
timeout 120 "$crema" train -solver fail.prototxt "${ranks[@]}" -overwrite > fail.log 2>&1
rc=$?
[ "$rc" -eq 1 ] || { cat fail.log; fail "exit status $rc after rank 0 failed (want 1; 124: hung)"; }
grep -q "$rank0 of 2 failed: .*fail_iter_10.caffemodel.*; stopping every rank" fail.log ||
  { cat fail.log; fail "the message does not name $rank0 and the cause"; }
echo "PASS"
