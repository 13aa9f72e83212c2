#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# CPU training-step benchmark, crema beside a current PyTorch (bench/setup_venv.sh creates its
# environment from PyPI on the first run), each in fp32 and bf16, at 1 thread then 2; every
# figure is the median of REPS runs, the two frameworks alternating. Both time whole training
# steps: forward, backward and SGD with momentum 0.9 and weight decay 1e-4 (`crema time -update`,
# bench/pytorch_step.py). PyTorch runs in its best CPU configuration: channels_last, and
# torch.autocast(bfloat16) for bf16.
# Unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines export and which slow
# OpenBLAS (users' machines do not set them).
#   usage: bench/run_cpu.sh [REPS] [BUILD_DIR]
set -euo pipefail
reps=${1:-3} build=${2:-build}
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
crema="$build/bin/crema"
python=$(bash bench/setup_venv.sh)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
crema_step() {  # model threads iterations precision -> step ms
  "$crema" time -model "$1" -iterations "$3" -threads "$2" -precision "$4" -update |
    awk '/^Median training step/ {print $8}'
}
torch_step() {  # model batch threads iterations precision -> step ms
  "$python" bench/pytorch_step.py --model "$1" --batch "$2" --threads "$3" --iters "$4" \
    --precision "$5" --channels-last | awk '{print $(NF-3)}'
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "crema $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $("$python" -c 'import torch; print("pytorch", torch.__version__)')"
for threads in 1 2; do
  for spec in "resnet20 net_defs/bench/resnet20_cifar_b64.prototxt 64 10" \
              "resnet50 net_defs/bench/resnet50_b8.prototxt 8 3"; do
    set -- $spec
    for precision in fp32 bf16; do
      c_runs=() t_runs=()
      for _ in $(seq "$reps"); do
        c_runs+=("$(crema_step "$2" "$threads" "$4" "$precision")")
        t_runs+=("$(torch_step "$1" "$3" "$threads" "$4" "$precision")")
      done
      c=$(printf '%s\n' "${c_runs[@]}" | median)
      t=$(printf '%s\n' "${t_runs[@]}" | median)
      echo "$1 batch $3, $threads thread(s), $precision: crema ${c} ms, pytorch ${t} ms," \
        "crema/pytorch $(awk "BEGIN {printf \"%.2f\", $c/$t}")"
    done
  done
done
