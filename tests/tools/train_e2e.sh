#!/usr/bin/env bash
# End to end through the crema binary on a slice of Fashion-MNIST: a tiny conv net trains (loss
# falls, accuracy clearly beats chance) and its log says what runs while keeping Caffe's lines,
# Caffe's flag spellings work, a second run into the same files is refused, a snapshot resumes
# with the metrics file reading as one run, SIGINT snapshots, stops and says how to resume,
# `crema test` scores the weights and says how many images, `crema time` names absorbed layers,
# and bad input gets clear errors.
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
# The start lines, and a progress line after each display.
for want in "Device: CPU, 1 thread; precision fp32" "Solver: $work/solver.prototxt; train net: .*net.prototxt" \
            "Batch: 50 images an iteration" "Training: max_iter 60 = 1 epoch of 3000 images" \
            "Snapshots: $work/snap/tiny_iter_N.caffemodel and .solverstate, every 60 iterations" \
            "Metrics: $work/snap/tiny_metrics.jsonl" "Log: stderr" \
            "Progress: 50/60 iterations (83.3%), epoch 0.83 of 1, [0-9]* images/s, ETA [0-9:]*$"; do
  grep -q "\] $want" "$work/log" || fail "no '$want' line: $(head -20 "$work/log")"
done
# What Caffe's parsers match (parse_log.py: "Iteration (\d+)", "lr = "; parse_log.sh: ", loss = ")
# is in Caffe's lines only.
grep -E 'Iteration [0-9]|, loss = |lr = ' "$work/log" |
  grep -vE '\] (Iteration [0-9]+( \(.* iter/s, .*s/[0-9]+ iters\), loss = |, lr = |, loss = |, Testing net )|    (Train|Test) net output #)' \
  > "$work/not_caffe" && fail "lines Caffe's parsers would misread: $(cat "$work/not_caffe")"

# 2. Caffe's flag spellings, in short runs of their own files (-overwrite: one after the other).
sed "s|snapshot_prefix: .*|snapshot_prefix: \"$work/quick/q\"|" "$work/solver.prototxt" > "$work/quick.prototxt"
for flags in "-solver $work/quick.prototxt -iterations 2" "--solver $work/quick.prototxt --iterations=2" \
             "-solver=$work/quick.prototxt -iterations=2"; do
  "$crema" train $flags -threads 1 -overwrite > /dev/null 2>&1 || fail "flags '$flags' rejected"
done

# -fuse=false runs every layer alone; -log_file writes the log lines, the progress lines too, to
# a file as well.
"$crema" train -solver "$work/quick.prototxt" -iterations 2 -threads 1 -fuse=false -log_file "$work/file.log" \
  -overwrite > /dev/null 2> "$work/fuse_log" || { cat "$work/fuse_log"; fail "-fuse=false -log_file rejected"; }
cmp -s "$work/fuse_log" "$work/file.log" || fail "-log_file does not hold the log lines"
grep -q "solver.cpp:[1-9][0-9]*\] Solving tiny_fashion" "$work/file.log" || fail "log lines name no source line"
grep -q "\] Log: stderr and $work/file.log" "$work/file.log" || fail "the log does not say where it goes"
grep -q "\] Progress: 0/2 iterations" "$work/file.log" || fail "no progress line in the log file"
"$crema" train -solver "$work/quick.prototxt" -iterations 2 -fuse=maybe 2> "$work/err" && fail "-fuse=maybe accepted"

# A second run into the first run's files is refused before it trains, saying how to continue it;
# so is a start from a state file that is none. Neither touches the metrics file.
cp "$work/snap/tiny_metrics.jsonl" "$work/metrics.before"
"$crema" train -solver "$work/solver.prototxt" -threads 1 > /dev/null 2> "$work/again" && fail "a second run into snap/tiny trained"
grep -q "continue that run:   crema train -solver $work/solver.prototxt -snapshot $work/snap/tiny_iter_60.solverstate -threads 1$" \
  "$work/again" || fail "the refusal says no way to continue: $(cat "$work/again")"
grep -q "add -overwrite" "$work/again" || fail "the refusal names no -overwrite: $(cat "$work/again")"
cmp -s "$work/metrics.before" "$work/snap/tiny_metrics.jsonl" || fail "the refused run changed the metrics file"
echo "not a solver state" > "$work/junk.solverstate"
"$crema" train -solver "$work/solver.prototxt" -snapshot "$work/junk.solverstate" -threads 1 > /dev/null 2>&1 &&
  fail "a junk solver state was accepted"
cmp -s "$work/metrics.before" "$work/snap/tiny_metrics.jsonl" || fail "a failed resume changed the metrics file"

# 3. Resume from the snapshot: continues at iteration 60.
"$crema" train -solver "$work/solver.prototxt" -snapshot "$work/snap/tiny_iter_60.solverstate" -iterations 70 -threads 1 \
  > /dev/null 2> "$work/resume" || { cat "$work/resume"; fail "resume failed"; }
grep -q "Restored solver state .* at iteration 60" "$work/resume" || fail "resume did not restore iteration 60"
[ -f "$work/snap/tiny_iter_70.caffemodel" ] || fail "resume wrote no final snapshot"
# The metrics file reads as one run: the first run's records before 60, the resumed run's after.
grep -q '^{"iter":50,"lr"' "$work/snap/tiny_metrics.jsonl" || fail "resuming dropped the records before 60"
[ "$(grep -c '^{"iter":60,"test_net":0' "$work/snap/tiny_metrics.jsonl")" = 1 ] ||
  fail "iteration 60's test pass is not recorded once: $(cat "$work/snap/tiny_metrics.jsonl")"
grep -q '^{"iter":70,"test_net":0' "$work/snap/tiny_metrics.jsonl" || fail "the resumed run recorded nothing"

# 4. Scoring the weights.
"$crema" test -model "$work/net.prototxt" -weights "$work/snap/tiny_iter_60.caffemodel" -iterations 5 -threads 1 \
  > "$work/test" 2>&1 || { cat "$work/test"; fail "crema test failed"; }
grep -qP '^accuracy = 0\.[5-9]' "$work/test" || { cat "$work/test"; fail "crema test accuracy"; }
grep -q "^Scored 500 images (5 iterations of 100) of the 1000 in the test data; -iterations all" "$work/test" ||
  fail "crema test does not say what it scored: $(grep -v Batch "$work/test")"
"$crema" test -model "$work/net.prototxt" -weights "$work/snap/tiny_iter_60.caffemodel" -iterations all -threads 1 \
  > "$work/test_all" 2>&1 || { cat "$work/test_all"; fail "crema test -iterations all failed"; }
grep -q "^Scored 1000 images (10 iterations of 100): every image of the test data once" "$work/test_all" ||
  fail "-iterations all: $(grep -v Batch "$work/test_all")"

# crema time: Scale and ReLU run inside BatchNorm's passes, and their rows say so.
"$crema" time -model "$work/net.prototxt" -iterations 1 -threads 1 > "$work/time" 2>&1 || { cat "$work/time"; fail "crema time failed"; }
for layer in scale relu; do
  grep -qE "^ *$layer  \(computed inside bn" "$work/time" || fail "crema time: $layer not noted: $(cat "$work/time")"
done
grep -qE "^ *bn  forward: .*\(includes scale, relu\)$" "$work/time" || fail "crema time: bn's row: $(cat "$work/time")"
# -update: whole training steps through the solver (the net reads its data layer as training
# does); refused where there is no training step to time.
"$crema" time -model "$work/net.prototxt" -iterations 2 -threads 1 -update > "$work/time_update" 2>&1 ||
  { cat "$work/time_update"; fail "crema time -update failed"; }
grep -qP '^Median training step \(forward, backward, SGD update\): [0-9.]+ ms over 2 iterations$' \
  "$work/time_update" || fail "crema time -update: no training step: $(cat "$work/time_update")"
if "$crema" time -model "$work/net.prototxt" -update -forward_only > "$work/time_refused" 2>&1 ||
  ! grep -q "not with -forward_only or -phase TEST" "$work/time_refused"; then
  fail "crema time -update -forward_only: $(cat "$work/time_refused")"
fi

# 5. SIGINT: snapshot, stop, and say the command that resumes.
sed "s|snapshot_prefix: .*|snapshot_prefix: \"$work/sig/s\"|" "$work/solver.prototxt" > "$work/sig.prototxt"
"$crema" train -solver "$work/sig.prototxt" -iterations 100000 -threads 1 > /dev/null 2> "$work/sigint" &
pid=$!
for _ in $(seq 100); do grep -q "Iteration 10 " "$work/sigint" && break; sleep 0.2; done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || fail "SIGINT exit code $rc, expected 130"
grep -q "Snapshotting to binary proto file" "$work/sigint" || fail "SIGINT did not snapshot"
grep -q "stopped early" "$work/sigint" || fail "SIGINT did not stop"
resume=$(grep -oP '\] Resume with: \K.*' "$work/sigint")
n=$(echo "$resume" | grep -oP "^crema train -solver $work/sig.prototxt -snapshot $work/sig/s_iter_\K[0-9]+(?=\.solverstate -iterations 100000 -threads 1$)") ||
  fail "no resume command, or not this one: '$resume'"
[ -f "$work/sig/s_iter_$n.solverstate" ] || fail "the resume command names a state that is not there: $resume"
resume=${resume/-iterations 100000/-iterations $((n + 1))}
eval "\"\$crema\" ${resume#crema }" > /dev/null 2> "$work/resumed" || { cat "$work/resumed"; fail "the resume command failed"; }
grep -q "Restored solver state .* at iteration $n" "$work/resumed" || fail "the resume command did not resume"

# 6. Clear errors.
"$crema" train -solver "$work/nope.prototxt" 2> "$work/err" && fail "missing solver accepted"
grep -q "nope.prototxt" "$work/err" || fail "missing solver not named: $(cat "$work/err")"
sed "s|snapshot_prefix: .*|snapshot_prefix: \"/proc/crema_cannot_write/x\"|" "$work/solver.prototxt" > "$work/bad_solver.prototxt"
"$crema" train -solver "$work/bad_solver.prototxt" 2> "$work/err" && fail "unwritable snapshot dir accepted"
grep -q "not writable" "$work/err" || fail "unwritable snapshot dir: $(cat "$work/err")"
"$crema" train -solver "$work/solver.prototxt" -bogus 1 2> "$work/err" && fail "unknown flag accepted"
grep -q "bogus" "$work/err" || fail "unknown flag not named"
echo "train end-to-end: OK"
