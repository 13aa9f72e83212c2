# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the monitoring tests (tensorboard_test.sh, parse_log_test.sh, plot_test.sh): a tiny
# conv net on a slice of Fashion-MNIST and a solver for it, so that each test reads what a real,
# short `crema train` leaves behind. Exits 77 (skipped) without the data set.
data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "SKIP: no Fashion-MNIST in $data"; exit 77; }

# write_run DIR BASE_LR: DIR/net.prototxt and DIR/solver.prototxt, whose files go to DIR/run/
# (snapshot_prefix DIR/run/tiny): 60 iterations, a display every 10, a test every 20, the rate
# halved every 20, a snapshot every 30.
write_run() {
  local dir=$1 base_lr=$2
  mkdir -p "$dir"
  cat > "$dir/net.prototxt" <<'NET'
name: "tiny_fashion"
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TRAIN }
  mnist_data_param { split: "train" batch_size: 50 max_images: 3000 }
  transform_param { scale: 0.00390625 } }
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TEST }
  mnist_data_param { split: "test" batch_size: 100 max_images: 500 }
  transform_param { scale: 0.00390625 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
NET
  cat > "$dir/solver.prototxt" <<SOLVER
net: "net.prototxt"
test_iter: 5
test_interval: 20
base_lr: $base_lr
lr_policy: "step"
stepsize: 20
gamma: 0.5
momentum: 0.9
max_iter: 60
display: 10
snapshot: 30
snapshot_prefix: "$dir/run/tiny"
random_seed: 1
solver_mode: CPU
SOLVER
}
