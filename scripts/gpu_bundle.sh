#!/usr/bin/env bash
# Builds crema for a lent H200 (sm_90, CUDA on, tests on) in build-gpu and packs it for the device
# tool: .gpu/ by ../shared/gpu/bundle.sh, Fashion-MNIST beside it, then .gpu.tar.xz (what the
# call carries: OpenBLAS and ~30 plugins each with its static CUDA runtime do not fit 64 MiB
# uncompressed).
#   bash scripts/gpu_bundle.sh            then, with the device tool:
#   run  carry: [".gpu.tar.xz"]  command: "bash scripts/gpu_check.sh"
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/cuda/bin:$PATH
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCREMA_WITH_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCREMA_NATIVE=OFF > build-gpu-configure.log
cmake --build build-gpu -j"$(nproc)"
bash ../shared/gpu/bundle.sh build-gpu .gpu
# Fashion-MNIST for the experiments' GPU timing (the GPU machine has no Debian packages): 31 MB
# of gzip, beside ~11 MB of compressed build, under the 64 MiB a call carries.
mkdir -p .gpu/fashion-mnist
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .gpu/fashion-mnist/
tar -C . -cJf .gpu.tar.xz .gpu
ls -l .gpu.tar.xz
