#!/usr/bin/env bash
# Runs on the lent GPU machine (repo root, $OUT collected): unpacks the bundle, runs every GPU test
# suite, then times one training step of ResNet-20 (batch 128) and ResNet-50 (batch 32, 224x224)
# with `crema time -gpu 0` beside PyTorch on the same card (FP32, cuDNN benchmark mode).
# Everything it prints also lands in $OUT/gpu_check.log.
set -uo pipefail
out=${OUT:-/tmp/crema_gpu_out}
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
[ -d .gpu ] || tar -xJf .gpu.tar.xz
b=$PWD/.gpu/build-gpu
run() { bash .gpu/run.sh "$@"; }
export CREMA_TEST_PLUGIN_DIR=$b/lib/crema/plugins CREMA_PLUGIN_PATH=$b/lib/crema/plugins
nvidia-smi -L
run "$b/bin/crema" device_query

echo "=== GPU tests (the GPU cases of every suite)"
for t in "$b"/bin/*_test; do
  echo "--- $(basename "$t")"
  timeout 240 run "$t" --gtest_brief=1 --gtest_filter='*Gpu*:*GPU*:*Cuda*:*CUDA*' || echo "FAILED: $(basename "$t")"
done

py=python3
$py -c "import torch" 2>/dev/null || py=$(ls /opt/torch/.venv/bin/python 2>/dev/null || echo python3)
echo "=== training step: crema beside PyTorch ($($py -c 'import torch; print(torch.__version__)' 2>&1))"
for spec in "resnet20 net_defs/bench/resnet20_cifar_b128.prototxt 128" \
            "resnet50 net_defs/bench/resnet50_b32.prototxt 32"; do
  set -- $spec
  timeout 120 run "$b/bin/crema" time -model "$2" -gpu 0 -iterations 20 | tail -25
  timeout 120 $py bench/pytorch_step.py --model "$1" --batch "$3" --device cuda --iters 20
  timeout 120 $py bench/pytorch_step.py --model "$1" --batch "$3" --device cuda --iters 20 --tf32
done
