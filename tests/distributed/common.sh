# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash disable=SC2034
# Shared by the data-parallel tests: a work directory, Open MPI's settings for running as root
# (CI does), the tiny nets and solvers, and the weights comparison.
#   source common.sh CREMA_BINARY SOURCE_DIR
set -uo pipefail
crema=$(realpath "$1")
src=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIPPED: $*"; exit 77; }
# Open MPI refuses root unless told (its documented switches); CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Containers often forbid the cross-process copies (CMA) Open MPI's shared memory uses by default.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# One thread a rank: two ranks share this machine's cores.
export CREMA_NUM_THREADS=1
command -v mpirun > /dev/null || skip "mpirun is not installed (openmpi-bin)"
"$crema" --version | grep -qi "mpi: yes" || skip "this crema was built without MPI (CREMA_WITH_MPI=OFF)"
[ -d /usr/share/datasets/fashion-mnist ] || skip "Fashion-MNIST is not installed (dataset-fashion-mnist)"
mpi() { mpirun --oversubscribe --bind-to none "$@"; }
compare() { python3 "$src/tests/distributed/compare_caffemodels.py" "$@"; }

# A small convolutional net; batch $2, test batch 10 (test_iter 5 covers 50 images: with two
# ranks, one scores 3 batches and the other 2). KIND 0: no BatchNorm, no augmentation; 1:
# BatchNorm, crops and flips; 2: BatchNorm alone; 3: BatchNorm with sync: true.
write_net() {  # write_net FILE BATCH KIND
  # Before BatchNorm a convolution's bias gets a gradient of rounding noise only (the mean is
  # taken out), which Adam scales up to whole steps: such nets have none, as ResNets do.
  local bn="" bias=""
  # Crops and flips are drawn per batch: the same with iter_size, other ones for a batch of 2b.
  local augment="" pad=""
  [ "$3" = 1 ] && augment="crop_size: 24 mirror: true" && pad="pad: 2"
  local sync=""
  [ "$3" = 3 ] && sync="batch_norm_param { sync: true }"
  [ "$3" != 0 ] && bias="bias_term: false" && bn='layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" '"$sync"' }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }'
  cat > "$1" <<NET
name: "tiny"
layer { name: "mnist" type: "MNISTData" top: "data" top: "label" include { phase: TRAIN }
  transform_param { scale: 0.00390625 $augment }
  mnist_data_param { split: "train" batch_size: $2 max_images: 200 $pad } }
layer { name: "mnist" type: "MNISTData" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.00390625 ${augment%% mirror*} }
  mnist_data_param { split: "test" batch_size: 10 max_images: 100 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 5 stride: 2 $bias weight_filler { type: "msra" } } }
$bn
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
NET
}

write_solver() {  # write_solver FILE NET PREFIX TYPE ITER_SIZE [MAX_ITER]
  local rule='type: "SGD" base_lr: 0.05 momentum: 0.9'
  [ "$4" = Adam ] && rule='type: "Adam" base_lr: 0.005 momentum: 0.9 momentum2: 0.999'
  cat > "$1" <<SOLVER
net: "$2"
$rule
weight_decay: 0.0005 lr_policy: "fixed" iter_size: $5
max_iter: ${6:-20} display: 5 test_interval: 10 test_iter: 5
snapshot: 10 snapshot_prefix: "$3" random_seed: 7
SOLVER
}
