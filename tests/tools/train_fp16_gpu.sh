#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fp16 training on the GPU end to end, with fp16 blobs and dynamic loss scaling: train_bf16.sh's
# small residual net (3x3 and 1x1 convolutions, BatchNorm, a shortcut) on a slice of
# Fashion-MNIST, on GPU 0, in fp32 and with -precision fp16 from the same seed. The fp16 run's net asks for a dynamic loss
# scale (global_grad_scale 1024, global_grad_scale_adaptive; loss_scale_window 40), so the scale
# must change during the run and the log must say so; the log names the layers computing in fp16;
# both runs learn and their test accuracies agree within 3 points (one run of 4 epochs on 3000
# images: the runs' spread sets that bound, as in train_bf16.sh). Skipped without a GPU, without
# fp16 tensor cores (the run must then say it computes in fp32) or without the data set.
#   usage: train_fp16_gpu.sh CREMA_BINARY [FASHION_MNIST_DIR]
set -uo pipefail
crema=$1
data=${2:-/usr/share/datasets/fashion-mnist}
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIP: no Fashion-MNIST in $data"; exit 77; }
query=$("$crema" device_query 2>&1)
if grep -q "^No GPU: " <<< "$query"; then
  echo "SKIP: $(head -1 <<< "$query")"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

net() {  # extra NetParameter fields -> the net on stdout
  cat <<NET
name: "small_residual"
$1
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TRAIN }
  mnist_data_param { source: "$data" split: "train" batch_size: 50 max_images: 3000 }
  transform_param { scale: 0.00390625 } }
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TEST }
  mnist_data_param { source: "$data" split: "test" batch_size: 100 max_images: 1000 }
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
}
net "" > "$work/net_fp32.prototxt"
net "global_grad_scale: 1024 global_grad_scale_adaptive: true" > "$work/net_fp16.prototxt"
for p in fp32 fp16; do
  cat > "$work/solver_$p.prototxt" <<SOLVER
net: "net_$p.prototxt"
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
solver_mode: GPU
loss_scale_window: 40
SOLVER
done

run() {  # precision: the log in $work/log.<precision>, the output in $work/out.<precision>
  "$crema" train -solver "$work/solver_$1.prototxt" -gpu 0 -precision "$1" > "$work/out.$1" \
    2> "$work/log.$1" || { tail -30 "$work/log.$1"; fail "-precision $1: train exited non-zero"; }
}
accuracy() { grep -oP 'Final test accuracy: \K[0-9.]+' "$work/out.$1"; }
run fp32
run fp16
fp32=$(accuracy fp32)
fp16=$(accuracy fp16)
{ [ -n "$fp32" ] && [ -n "$fp16" ]; } || fail "no final test accuracy in the output"
echo "test accuracy on the GPU: fp32 $fp32, fp16 $fp16"
grep -i "precision" "$work/log.fp16" | head -2
grep -q "precision fp32" "$work/log.fp32" || fail "the fp32 run does not say its precision"
if grep -q "has no fp16 tensor cores" "$work/log.fp16"; then
  echo "SKIP: this GPU has no fp16 tensor cores; the run said so and computed in fp32"
  exit 77
fi
grep -qE "precision fp16 in 4 of [0-9]+ layers \(Convolution, InnerProduct\)" "$work/log.fp16" ||
  { grep -i precision "$work/log.fp16"; fail "the fp16 run does not name its fp16 layers"; }
# Between the convolutions, BatchNorm, ReLU, Eltwise and pooling the blobs are stored in fp16.
grep -qE "fp16 storage for [0-9]+ of [0-9]+ blobs" "$work/log.fp16" ||
  { grep -i precision "$work/log.fp16"; fail "the fp16 run does not store its blobs in fp16"; }
# The scale doubles after 40 good steps (or halves on an overflow): it must have moved.
grep -q "loss scale 1024 -> " "$work/log.fp16" ||
  { grep -i "loss scale" "$work/log.fp16"; fail "the dynamic loss scale never changed"; }
grep "loss scale" "$work/log.fp16" | head -3
awk "BEGIN {exit !($fp32 > 0.7 && $fp16 > 0.7)}" || fail "a run did not learn"
awk "BEGIN {d = $fp32 - $fp16; if (d < 0) d = -d; exit !(d <= 0.03)}" ||
  fail "fp16's accuracy $fp16 is more than 3 points from fp32's $fp32"
echo "PASS"
