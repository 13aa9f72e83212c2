#!/usr/bin/env bash
# End to end through the crema binary on a slice of Fashion-MNIST: a tiny conv net trains (loss
# falls, accuracy clearly beats chance), Caffe's flag spellings work, a snapshot resumes, SIGINT
# snapshots and stops, `crema test` scores the weights, and bad input gets clear errors.
#   usage: train_e2e.sh CREMA_BINARY
set -uo pipefail
crema=$1
data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "SKIP: no Fashion-MNIST in $data"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$work/net.prototxt" <<'NET'
name: "tiny_fashion"
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TRAIN }
  mnist_data_param { split: "train" batch_size: 50 max_images: 3000 }
  transform_param { scale: 0.00390625 } }
layer { name: "data" type: "MNISTData" top: "data" top: "label" include { phase: TEST }
  mnist_data_param { split: "test" batch_size: 100 max_images: 1000 }
  transform_param { scale: 0.00390625 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
NET
cat > "$work/solver.prototxt" <<SOLVER
net: "net.prototxt"
test_iter: 10
test_interval: 60
test_initialization: false
base_lr: 0.01
lr_policy: "fixed"
momentum: 0.9
weight_decay: 0.0005
max_iter: 60
display: 10
snapshot: 60
snapshot_prefix: "$work/snap/tiny"
random_seed: 1
solver_mode: CPU
SOLVER

# 1. Training from another directory (the net path resolves beside the solver).
(cd / && "$crema" train -solver="$work/solver.prototxt" -threads 1) > "$work/out" 2> "$work/log" || { cat "$work/log"; fail "train exited non-zero"; }
first=$(grep -m1 -oP 'Iteration 0 \(.*loss = \K[0-9.e+-]+' "$work/log")
last=$(grep -oP 'Iteration 50 \(.*loss = \K[0-9.e+-]+' "$work/log")
acc=$(grep -oP 'Final test accuracy: \K[0-9.]+' "$work/out")
echo "loss $first -> $last, test accuracy $acc"
awk "BEGIN {exit !($last < 0.7 * $first)}" || fail "loss did not fall: $first -> $last"
awk "BEGIN {exit !($acc > 0.5)}" || fail "accuracy $acc does not beat chance (0.1) clearly"
grep -q "Test net output #.*: accuracy = " "$work/log" || fail "no Caffe-style test line"
[ -f "$work/snap/tiny_iter_60.caffemodel" ] && [ -f "$work/snap/tiny_iter_60.solverstate" ] || fail "no snapshot"
grep -q '"iter":50' "$work/snap/tiny_metrics.jsonl" || fail "no metrics file"

# 2. Caffe's flag spellings.
for flags in "-solver $work/solver.prototxt -iterations 2" "--solver $work/solver.prototxt --iterations=2" \
             "-solver=$work/solver.prototxt -iterations=2"; do
  "$crema" train $flags -threads 1 > /dev/null 2>&1 || fail "flags '$flags' rejected"
done

# 3. Resume from the snapshot: continues at iteration 60.
"$crema" train -solver "$work/solver.prototxt" -snapshot "$work/snap/tiny_iter_60.solverstate" -iterations 70 -threads 1 \
  > /dev/null 2> "$work/resume" || { cat "$work/resume"; fail "resume failed"; }
grep -q "Restored solver state .* at iteration 60" "$work/resume" || fail "resume did not restore iteration 60"
[ -f "$work/snap/tiny_iter_70.caffemodel" ] || fail "resume wrote no final snapshot"

# 4. Scoring the weights.
"$crema" test -model "$work/net.prototxt" -weights "$work/snap/tiny_iter_60.caffemodel" -iterations 5 -threads 1 \
  > "$work/test" 2>&1 || { cat "$work/test"; fail "crema test failed"; }
grep -qP '^accuracy = 0\.[5-9]' "$work/test" || { cat "$work/test"; fail "crema test accuracy"; }

# 5. SIGINT: snapshot and stop.
"$crema" train -solver "$work/solver.prototxt" -iterations 100000 -threads 1 > /dev/null 2> "$work/sigint" &
pid=$!
for _ in $(seq 100); do grep -q "Iteration 10 " "$work/sigint" && break; sleep 0.2; done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || fail "SIGINT exit code $rc, expected 130"
grep -q "Snapshotting to binary proto file" "$work/sigint" || fail "SIGINT did not snapshot"
grep -q "stopped early" "$work/sigint" || fail "SIGINT did not stop"

# 6. Clear errors.
"$crema" train -solver "$work/nope.prototxt" 2> "$work/err" && fail "missing solver accepted"
grep -q "nope.prototxt" "$work/err" || fail "missing solver not named: $(cat "$work/err")"
sed "s|snapshot_prefix: .*|snapshot_prefix: \"/proc/crema_cannot_write/x\"|" "$work/solver.prototxt" > "$work/bad_solver.prototxt"
"$crema" train -solver "$work/bad_solver.prototxt" 2> "$work/err" && fail "unwritable snapshot dir accepted"
grep -q "not writable" "$work/err" || fail "unwritable snapshot dir: $(cat "$work/err")"
"$crema" train -solver "$work/solver.prototxt" -bogus 1 2> "$work/err" && fail "unknown flag accepted"
grep -q "bogus" "$work/err" || fail "unknown flag not named"
echo "train end-to-end: OK"
