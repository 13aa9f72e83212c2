#!/usr/bin/env bash
# The main job: sets up a fresh Debian machine, builds crema and trains a ResNet-20 on
# Fashion-MNIST, ending with the final test accuracy. Extra arguments go to `crema train`
# (e.g. -iterations 500, -threads 2, -gpu 0). It builds what training needs only (the crema
# command and the layer plugins: the crema_runtime target) and says how long the build and the
# training took (on stderr: stdout ends with the accuracy).
set -euo pipefail
cd "$(dirname "$0")/.."
elapsed() { local s=$((SECONDS - $1)); printf '%dm %02ds' $((s / 60)) $((s % 60)); }
bash scripts/install_deps.sh
start=$SECONDS
CREMA_BUILD_TARGETS=crema_runtime bash scripts/build.sh
echo "train_fashion_mnist.sh: built crema and its plugins in $(elapsed $start)" >&2
start=$SECONDS
status=0
build/bin/crema train -solver net_defs/fashion_mnist/solver.prototxt "$@" || status=$?
echo "train_fashion_mnist.sh: trained in $(elapsed $start) (crema train exit status $status)" >&2
exit $status
