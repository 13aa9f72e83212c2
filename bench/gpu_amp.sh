#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# GPU mixed-precision training step, crema beside PyTorch on the same card: ResNet-50, batch 32,
# 224x224, in fp32, fp16 and bf16; both time whole training steps (forward, backward, SGD with
# momentum and weight decay). crema: `crema time -gpu 0 -precision P -update` (convolutions and
# inner products on the tensor cores in fp16/bf16, everything else fp32; fp32 is plain FMA, no
# TF32). PyTorch: bench/pytorch_step.py --device cuda --channels-last, torch.autocast(cuda, dtype)
# for fp16/bf16 (GradScaler for fp16), cuDNN benchmark mode, TF32 off. Every figure is the median
# of REPS runs, the two frameworks alternating run by run.
# Unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (as bench/run_cpu.sh does).
#   usage: bench/gpu_amp.sh [REPS] [ITERATIONS]
#   CREMA: the crema command (default build/bin/crema; on a bundle machine
#          "bash .gpu/run.sh .gpu/build-gpu/bin/crema"); PYTHON: a Python with torch (default: the
#          first of python3 and .venv-bench/bin/python that imports torch, else bench/setup_venv.sh)
set -euo pipefail
reps=${1:-3} iters=${2:-20}
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
read -ra crema <<< "${CREMA:-build/bin/crema}"
python=${PYTHON:-}
if [ -z "$python" ]; then
  for c in python3 .venv-bench/bin/python; do
    if command -v "$c" > /dev/null && "$c" -c "import torch" 2> /dev/null; then python=$c; break; fi
  done
fi
[ -n "$python" ] || python=$(bash bench/setup_venv.sh 2> /dev/null || true)
if [ -z "$python" ] || ! "$python" -c "import torch; assert torch.cuda.is_available()" 2> /dev/null; then
  echo "no Python with a CUDA-enabled torch: timing crema alone"
  python=
fi
if ! query=$("${crema[@]}" device_query 2>&1); then
  echo "crema finds no GPU: $query" >&2
  exit 1
fi
model=net_defs/bench/resnet50_b32.prototxt
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
crema_step() {  # precision -> step ms; the precision line to $log
  "${crema[@]}" time -model "$model" -gpu 0 -iterations "$iters" -precision "$1" -update > "$log.out"
  grep '^Precision:' "$log.out" > "$log.precision.$1" || true
  awk '/^Median training step/ {print $8}' "$log.out" | grep . ||
    { echo "crema time printed no training step" >&2; exit 1; }
}
torch_step() {  # precision -> step ms
  "$python" bench/pytorch_step.py --model resnet50 --batch 32 --device cuda --channels-last \
    --iters "$iters" --precision "$1" | awk '{print $(NF-3)}'
}
log=$(mktemp)
trap 'rm -f "$log" "$log".*' EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null || true
echo "crema $(git rev-parse --short HEAD 2> /dev/null || echo '?')${python:+, $("$python" -c 'import torch; print("pytorch", torch.__version__, "cuDNN", torch.backends.cudnn.version())')}"
echo "ResNet-50, batch 32, 224x224, one training step; median of $reps runs of $iters iterations"
for precision in fp32 fp16 bf16; do
  c_runs=() t_runs=()
  for _ in $(seq "$reps"); do
    c_runs+=("$(crema_step "$precision")")
    [ -z "$python" ] || t_runs+=("$(torch_step "$precision")")
  done
  c=$(printf '%s\n' "${c_runs[@]}" | median)
  line="$precision: crema ${c} ms"
  if [ -n "$python" ]; then
    t=$(printf '%s\n' "${t_runs[@]}" | median)
    line="$line, pytorch ${t} ms, crema/pytorch $(awk "BEGIN {printf \"%.2f\", $c/$t}")"
  fi
  echo "$line"
  sed 's/^/  crema /' "$log.precision.$precision" 2> /dev/null || true
done
