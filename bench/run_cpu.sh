#!/usr/bin/env bash
# CPU training-step benchmark, crema beside PyTorch (when /usr/bin/python3 has torch), 1 thread
# then 2, each the median of REPS runs.   usage: bench/run_cpu.sh [REPS] [BUILD_DIR]
set -euo pipefail
reps=${1:-3} build=${2:-build}
cd "$(dirname "$0")/.."
crema="$build/bin/crema"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_crema() {  # model threads iterations -> median step ms; the last run's summary to stderr
  local log
  log=$(mktemp)
  for _ in $(seq "$reps"); do
    "$crema" time -model "$1" -iterations "$3" -threads "$2" > "$log"
    awk '/^Median step/ {print $3}' "$log"
  done | median
  grep -E "achieved|Peak memory" "$log" | sed 's/^/    /' >&2
  rm -f "$log"
}
run_torch() {
  for _ in $(seq "$reps"); do
    /usr/bin/python3 bench/pytorch_step.py --model "$1" --batch "$2" --threads "$3" --iters "$4" | awk '{print $(NF-3)}'
  done | median
}
have_torch=0
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null && have_torch=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for threads in 1 2; do
  for spec in "resnet20 net_defs/bench/resnet20_cifar_b64.prototxt 64 10" \
              "resnet50 net_defs/bench/resnet50_b8.prototxt 8 3"; do
    set -- $spec
    c=$(run_crema "$2" "$threads" "$4")
    line="$1 batch $3, $threads thread(s): crema ${c} ms"
    if [ $have_torch = 1 ]; then
      t=$(run_torch "$1" "$3" "$threads" "$4")
      line="$line, pytorch ${t} ms, crema/pytorch time ratio $(awk "BEGIN {printf \"%.2f\", $c/$t}")"
    fi
    echo "$line"
  done
done
