#!/usr/bin/env bash
# Runs on the GPU machine, in the repository root beside .gpu.tar.xz from scripts/gpu_bundle.sh:
# unpacks the bundle, runs the GPU cases of every test suite and `crema train -gpu 0,1` on two
# GPUs (tests/distributed/thread_ranks.sh; skipped with one), then times one training step of
# ResNet-20 (batch 128) and ResNet-50 (batch 32, 224x224) with `crema time -gpu 0` beside PyTorch
# on the same card (FP32, cuDNN benchmark mode; when a Python with torch is found), and trains
# claim 3 of the experiments at the full budget on the GPU (one seed: two ResNet-20 runs), whose
# report ($OUT/experiments_gpu) gives the full mode's expected wall time on this card; last,
# fp16 training with dynamic loss scaling against fp32 (tests/tools/train_fp16_gpu.sh) and
# ResNet-50's step in fp32, fp16 and bf16 beside PyTorch AMP (bench/gpu_amp.sh).
# Everything it prints also lands in $OUT/gpu_check.log (OUT defaults to /tmp/crema_gpu_out).
#   usage: bash scripts/gpu_check.sh [STAGE ...]
# STAGE: tests, threads, step, experiments, fp16, amp (default: all, in that order). A lent GPU's
# budget (minutes) may not hold all of them in one call: run `tests` first, the rest after.
set -uo pipefail
stages=" ${*:-tests threads step experiments fp16 amp} "
want() { [[ $stages == *" $1 "* ]]; }
out=${OUT:-/tmp/crema_gpu_out}
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
[ -d .gpu ] || tar -xJf .gpu.tar.xz
b=$PWD/.gpu/build-gpu
run() { bash .gpu/run.sh "$@"; }
trun() { local t=$1; shift; timeout "$t" bash .gpu/run.sh "$@"; }  # with a time limit
export CREMA_TEST_PLUGIN_DIR=$b/lib/crema/plugins CREMA_PLUGIN_PATH=$b/lib/crema/plugins
# crema through the bundle's run.sh, for the scripts that take a crema command
wrapper=$(mktemp)
printf '#!/usr/bin/env bash\nexec bash %q %q "$@"\n' "$PWD/.gpu/run.sh" "$b/bin/crema" > "$wrapper"
chmod +x "$wrapper"
nvidia-smi -L
run "$b/bin/crema" device_query

if want tests; then
  echo "=== GPU tests (the GPU cases of every suite)"
  for t in "$b"/bin/*_test; do
    echo "--- $(basename "$t")"
    trun 240 "$t" --gtest_brief=1 --gtest_filter='*Gpu*:*GPU*:*Cuda*:*CUDA*' || echo "FAILED: $(basename "$t")"
  done
fi

if want threads; then
  echo "=== crema train -gpu 0,1: one process, a Solver thread a GPU (skipped with fewer than two)"
  timeout 600 bash tests/distributed/thread_ranks.sh "$wrapper" . gpu
  rc=$?
  [ $rc -eq 0 ] || echo "FAILED: thread_ranks.sh exited $rc (77: skipped, 124: timed out)"
fi

py=
for c in python3 /usr/bin/python3 /opt/torch/.venv/bin/python; do
  if command -v "$c" > /dev/null && "$c" -c "import torch" 2> /dev/null; then py=$c; break; fi
done
if want step; then
  echo "=== training step: crema beside PyTorch (${py:-no Python with torch found})"
  for spec in "resnet20 net_defs/bench/resnet20_cifar_b128.prototxt 128" \
              "resnet50 net_defs/bench/resnet50_b32.prototxt 32"; do
    set -- $spec
    trun 120 "$b/bin/crema" time -model "$2" -gpu 0 -iterations 20 | tail -25
    [ -n "$py" ] || continue
    timeout 120 "$py" bench/pytorch_step.py --model "$1" --batch "$3" --device cuda --iters 20
    timeout 120 "$py" bench/pytorch_step.py --model "$1" --batch "$3" --device cuda --iters 20 --tf32
  done
fi

if want experiments; then
  echo "=== the experiments on the GPU: claim 3 at the full budget, seed 1 (two ResNet-20 runs)"
  timeout 240 python3 tools/experiments/run_experiments.py --claims 3 --seeds 1 --gpu 0 --threads 4 \
    --data .gpu/fashion-mnist --crema "$wrapper" --out "$out/experiments_gpu" --run-dir /tmp/crema_exp_gpu \
    || echo "FAILED: run_experiments.py --gpu 0"
fi

if want fp16; then
  echo "=== fp16 / bf16 on the tensor cores: fp16 training with dynamic loss scaling against fp32"
  timeout 300 bash tests/tools/train_fp16_gpu.sh "$wrapper" .gpu/fashion-mnist
  rc=$?
  [ $rc -eq 0 ] || echo "FAILED: train_fp16_gpu.sh exited $rc (77: skipped, 124: timed out)"
fi

if want amp; then
  echo "=== ResNet-50 batch 32 in fp32, fp16 and bf16: crema beside PyTorch AMP"
  CREMA="bash .gpu/run.sh $b/bin/crema" PYTHON="$py" timeout 420 bash bench/gpu_amp.sh 3 20 \
    || echo "FAILED: bench/gpu_amp.sh"
fi
