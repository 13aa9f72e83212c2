#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bf16 training end to end (the short version of BENCHMARKS.md's Fashion-MNIST comparison): a
# small residual net with 3x3 and 1x1 convolutions, BatchNorm and a shortcut trains on a slice
# of Fashion-MNIST in fp32 and with -precision bf16 from the same seed; the log names the
# layers computing in bf16 and the blobs stored in bf16 (N,H,W,C ones among them), both runs
# learn, and their test accuracies agree within 3 points (one run of 4 epochs on 3000 images:
# the runs' spread, not bf16's error, sets that bound).
# On a CPU without AVX512_BF16 the run must say that it computes in fp32, and the test is
# skipped.   usage: train_bf16.sh CREMA_BINARY
set -uo pipefail
crema=$1
data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "SKIP: no Fashion-MNIST in $data"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$work/net.prototxt" <<'NET'
name: "small_residual"
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TRAIN }
  mnist_data_param { split: "train" batch_size: 50 max_images: 3000 }
  transform_param { scale: 0.00390625 } }
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TEST }
  mnist_data_param { split: "test" batch_size: 100 max_images: 1000 }
  transform_param { scale: 0.00390625 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 16 kernel_size: 3 pad: 1 stride: 2 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
  convolution_param { num_output: 16 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn2" type: "BatchNorm" bottom: "conv2" top: "conv2" }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "conv3" type: "Convolution" bottom: "conv2" top: "conv3"
  convolution_param { num_output: 16 kernel_size: 1 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn3" type: "BatchNorm" bottom: "conv3" top: "conv3" }
layer { name: "sum" type: "Eltwise" bottom: "conv1" bottom: "conv3" top: "sum" }
layer { name: "relu3" type: "ReLU" bottom: "sum" top: "sum" }
layer { name: "pool" type: "Pooling" bottom: "sum" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
NET
cat > "$work/solver.prototxt" <<SOLVER
net: "net.prototxt"
test_iter: 10
test_interval: 240
test_initialization: false
base_lr: 0.02
lr_policy: "cosine"
momentum: 0.9
weight_decay: 0.0005
max_iter: 240
display: 40
snapshot_after_train: false
random_seed: 1
solver_mode: CPU
SOLVER

run() {  # precision -> accuracy on stdout; the log in $work/log.<precision>
  "$crema" train -solver "$work/solver.prototxt" -threads 1 -precision "$1" > "$work/out.$1" \
    2> "$work/log.$1" || { cat "$work/log.$1"; fail "-precision $1: train exited non-zero"; }
  grep -oP 'Final test accuracy: \K[0-9.]+' "$work/out.$1"
}
fp32=$(run fp32)
bf16=$(run bf16)
echo "test accuracy: fp32 $fp32, bf16 $bf16"
grep -q "precision fp32" "$work/log.fp32" || fail "the fp32 run does not say its precision"
if grep -q "lacks AVX512_BF16" "$work/log.bf16"; then
  echo "SKIP: this CPU has no bf16 dot products; the run said so and computed in fp32"
  exit 77
fi
grep -qE "precision bf16 in 4 of [0-9]+ layers \(Convolution, InnerProduct\)" "$work/log.bf16" ||
  { grep -i precision "$work/log.bf16"; fail "the bf16 run does not name its bf16 layers"; }
grep -qE "bf16 storage for [0-9]+ of [0-9]+ blobs" "$work/log.bf16" ||
  { grep -i precision "$work/log.bf16"; fail "the bf16 run does not store its blobs in bf16"; }
grep -qE "[1-9][0-9]* of them N,H,W,C" "$work/log.bf16" ||
  { grep -i precision "$work/log.bf16"; fail "the bf16 run stores no blob N,H,W,C"; }
awk "BEGIN {exit !($fp32 > 0.7 && $bf16 > 0.7)}" || fail "a run did not learn"
awk "BEGIN {d = $fp32 - $bf16; if (d < 0) d = -d; exit !(d <= 0.03)}" ||
  fail "bf16's accuracy $bf16 is more than 3 points from fp32's $fp32"
# The accuracies may tie (827 of 1000 images either way); the losses, printed to 6 digits, not.
loss() { grep -oP 'Iteration 200 \(.*loss = \K[0-9.e+-]+' "$work/log.$1"; }
[ -n "$(loss bf16)" ] || fail "no loss at iteration 200 in the bf16 log"
[ "$(loss fp32)" != "$(loss bf16)" ] || fail "bf16 computed exactly as fp32 (loss $(loss bf16))"
echo "PASS"
