#!/usr/bin/env bash
# The main job: sets up a fresh Debian machine, builds crema and trains a ResNet-20 on
# Fashion-MNIST, ending with the final test accuracy. Extra arguments go to `crema train`
# (e.g. -iterations 500, -threads 2, -gpu 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
exec build/bin/crema train -solver net_defs/fashion_mnist/solver.prototxt "$@"
