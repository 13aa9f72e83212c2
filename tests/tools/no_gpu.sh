#!/usr/bin/env bash
# On a machine without a usable GPU (CI, this machine): every GPU request gets a one-line error
# that says why, exits 1 (never a crash), and CPU work from the same binary is untouched;
# `solver_mode: GPU` trains on the CPU and says so. Skipped where a GPU exists.
#   usage: no_gpu.sh CREMA_BINARY
set -uo pipefail
crema=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$crema" device_query > "$work/query" 2>&1
rc=$?
if ! grep -q "^No GPU: " "$work/query"; then
  [ $rc -eq 0 ] || fail "device_query exited $rc: $(cat "$work/query")"
  echo "SKIP: a GPU is here: $(head -3 "$work/query")"; exit 77
fi
[ $rc -eq 1 ] || fail "device_query without a GPU exited $rc (want 1)"
# Said in a user's words: CUDA's "driver version is insufficient" also means "no driver at all".
grep -qE "^No GPU: (no NVIDIA driver found|no GPU found|.*built without CUDA|the NVIDIA driver supports CUDA)" \
  "$work/query" || fail "device_query does not say plainly why: $(cat "$work/query")"
if ! ls /dev/nvidia* > /dev/null 2>&1 && ! ldconfig -p 2> /dev/null | grep -q "libcuda\.so"; then
  grep -qE "no NVIDIA driver found|built without CUDA" "$work/query" ||
    fail "no driver here, but device_query says: $(cat "$work/query")"
fi

cat > "$work/net.prototxt" <<'NET'
name: "tiny"
layer { name: "data" type: "DummyData" top: "x" top: "label"
  dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "uniform" min: 0 max: 2.99 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
NET
cat > "$work/solver.prototxt" <<'SOLVER'
net: "net.prototxt"
base_lr: 0.01 lr_policy: "fixed" max_iter: 3 display: 1 snapshot_after_train: false
SOLVER

# -gpu on each verb: exit 1 with the reason, nothing written.
expect_refusal() {  # what, command...
  local what=$1; shift
  (cd "$work" && "$@") > "$work/out" 2>&1
  local rc=$?
  [ $rc -eq 1 ] || fail "$what exited $rc (want 1): $(tail -3 "$work/out")"
  grep -qiE "no NVIDIA driver|no GPU found|NVIDIA driver supports|no usable CUDA device|built without CUDA" "$work/out" ||
    fail "$what gave no reason: $(tail -3 "$work/out")"
}
expect_refusal "train -gpu 0" "$crema" train -solver solver.prototxt -gpu 0
# Several GPUs in one process (a thread a GPU) and every GPU: the same reason, before any thread.
expect_refusal "train -gpu 0,1" "$crema" train -solver solver.prototxt -gpu 0,1
grep -q "^.*-gpu 0,1: " "$work/out" || fail "train -gpu 0,1 does not name the flag: $(tail -3 "$work/out")"
expect_refusal "train -gpu all" "$crema" train -solver solver.prototxt -gpu all
expect_refusal "time -gpu 0" "$crema" time -model net.prototxt -gpu 0 -iterations 1
expect_refusal "test -gpu 0" "$crema" test -model net.prototxt -gpu 0 -iterations 1

# solver_mode: GPU without a GPU trains on the CPU and says so.
echo "solver_mode: GPU" >> "$work/solver.prototxt"
(cd "$work" && "$crema" train -solver solver.prototxt) > "$work/train" 2>&1 ||
  fail "solver_mode GPU without a GPU failed: $(tail -3 "$work/train")"
grep -q "solver_mode GPU but .*training on the CPU" "$work/train" ||
  fail "no note that training fell back to the CPU: $(head -5 "$work/train")"
grep -q "Optimization Done" "$work/train" || fail "training did not finish: $(tail -3 "$work/train")"
echo "PASS"
