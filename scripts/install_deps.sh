#!/usr/bin/env bash
# Installs the Debian packages crema needs (as root, or through sudo). Quick when all are there.
set -euo pipefail
packages=(cmake ninja-build g++ make python3 libprotobuf-dev protobuf-compiler libopenblas-dev libopenblas-openmp-dev graphviz
          libboost-dev libboost-program-options-dev libgtest-dev libbenchmark-dev zlib1g-dev
          liblmdb-dev dataset-fashion-mnist python3-matplotlib clang-format clang-tidy
          # ONNX's onnx.proto, compiled into crema export/import (docs/ONNX.md); python3-venv for
          # the test-side checkers' virtual environments
          libonnx-dev python3-venv
          # oneDNN: bf16 convolutions and GEMMs on the CPU (docs/PRECISION.md); Debian's oneDNN
          # is built with an OpenCL GPU runtime, so its CMake config needs OpenCL's headers and
          # library (only recommended, and recommendations are not installed here)
          libdnnl-dev ocl-icd-opencl-dev
          # MPI for data-parallel training (docs/DISTRIBUTED.md); iproute2 for its two-namespace test
          libopenmpi-dev openmpi-bin iproute2
          # libFuzzer and clang's OpenMP, for the fuzz targets (scripts/fuzz.sh)
          clang libclang-rt-dev libomp-dev
          # import crema and the Python layer (docs/PYTHON.md), and their tests
          python3-dev python3-numpy pybind11-dev python3-pytest)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
