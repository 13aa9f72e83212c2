#!/usr/bin/env bash
# Configures and builds crema in ./build (Release). CUDA is built when nvcc is found
# (/usr/local/cuda/bin is searched); pass -DCREMA_WITH_CUDA=OFF to skip it. Everything is built
# unless CREMA_BUILD_TARGETS names some (e.g. crema_runtime: the crema command and the plugins).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="$PATH:/usr/local/cuda/bin"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > build-configure.log || { cat build-configure.log; exit 1; }
targets=()
for t in ${CREMA_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build build -j "$(nproc)" ${targets[@]+"${targets[@]}"}
