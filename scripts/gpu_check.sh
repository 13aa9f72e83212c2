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
# budget (minutes) may not hold all of them in one call: run `tests` first, the rest after. The
# tests stage stops starting suites after TESTS_BUDGET seconds (default 540), the mixed-precision
# and solver suites first. Exits 2 at once where crema finds no usable GPU.
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
echo "=== pre-flight: libraries the bundle's programs do not find here"
for f in "$b"/bin/* "$b"/lib/*.so* "$b"/lib/crema/plugins/*.so; do
  run ldd "$f" 2> /dev/null | grep "not found"
done | sort | uniq -c
# Without a usable GPU every GPU test would skip and the run would look clean: stop instead.
if ! run "$b/bin/crema" device_query; then
  echo "NO USABLE GPU: crema device_query failed (above); nothing below would run on a GPU"
  exit 2
fi
# A script's exit status: 0 passed, 77 skipped, anything else failed.
verdict() {
  case $2 in
    0) ;;
    77) echo "SKIPPED: $1" ;;
    124) echo "FAILED: $1 timed out" ;;
    *) echo "FAILED: $1 exited $2" ;;
  esac
}

if want tests; then
  echo "=== GPU tests (the GPU cases of every suite; mixed precision and the solver first)"
  mkdir -p "$out/tests"
  first="solver_gpu_test layer_plugins_gpu_test convolution_test inner_product_test cuda_values_test
         fp16_test storage_test loss_scaler_test batch_norm_test"
  suites=()
  for n in $first; do [ -x "$b/bin/$n" ] && suites+=("$b/bin/$n"); done
  for t in "$b"/bin/*_test; do [[ " ${suites[*]} " == *" $t "* ]] || suites+=("$t"); done
  deadline=$((SECONDS + ${TESTS_BUDGET:-540}))
  total_p=0 total_s=0 total_f=0
  # From a suite's $log, GoogleTest's summary: "[  PASSED  ] N tests.", "[  SKIPPED ] N tests,
  # listed below:", ...
  count() { grep -oP "^\[  $1 *\] \K[0-9]+(?= tests?[.,])" "$log" | tail -1; }
  for t in "${suites[@]}"; do
    name=$(basename "$t") log="$out/tests/$(basename "$t").log"
    left=$((deadline - SECONDS))
    if [ "$left" -le 10 ]; then echo "NOT RUN (the stage's time is spent): $name"; continue; fi
    trun $((left < 240 ? left : 240)) "$t" --gtest_filter='*Gpu*:*GPU*:*Cuda*:*CUDA*' > "$log" 2>&1
    rc=$?
    p=$(count PASSED) s=$(count SKIPPED) f=$(count FAILED)
    total_p=$((total_p + ${p:-0})) total_s=$((total_s + ${s:-0})) total_f=$((total_f + ${f:-0}))
    echo "--- $name: ${p:-0} passed, ${s:-0} skipped, ${f:-0} failed"
    grep -E '^\[  (FAILED  |SKIPPED )\] [A-Za-z_][^ ]*$' "$log" | sort -u  # the summary's names
    # Why GPU cases skipped on a GPU machine (the message after GoogleTest's "Skipped" line).
    grep -A1 ': Skipped$' "$log" | grep -vE ': Skipped$|^--$' | sort | uniq -c | head -5
    [ "$rc" -eq 0 ] || verdict "$name" "$rc"
  done
  echo "=== GPU tests: $total_p passed, $total_s skipped, $total_f failed (logs: $out/tests)"
fi

if want threads; then
  echo "=== crema train -gpu 0,1: one process, a Solver thread a GPU (skipped with fewer than two)"
  timeout 600 bash tests/distributed/thread_ranks.sh "$wrapper" . gpu
  verdict thread_ranks.sh $?
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
    trun 120 "$b/bin/crema" time -model "$2" -gpu 0 -iterations 20 -update | tail -25
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
  verdict train_fp16_gpu.sh $?
fi

if want amp; then
  echo "=== ResNet-50 batch 32 in fp32, fp16 and bf16: crema beside PyTorch AMP"
  # PYTHON=false where no torch was found: crema alone (the GPU machine has no package index).
  CREMA="bash .gpu/run.sh $b/bin/crema" PYTHON="${py:-false}" timeout 420 bash bench/gpu_amp.sh 3 20 \
    || echo "FAILED: bench/gpu_amp.sh"
fi
