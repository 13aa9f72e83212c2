#!/usr/bin/env bash
# Installs the Debian packages crema needs (as root, or through sudo). Quick when all are there.
set -euo pipefail
packages=(cmake ninja-build g++ make python3 libprotobuf-dev protobuf-compiler libopenblas-dev libopenblas-openmp-dev graphviz
          libboost-dev libboost-program-options-dev libgtest-dev libbenchmark-dev zlib1g-dev
          liblmdb-dev dataset-fashion-mnist python3-matplotlib clang-format clang-tidy
          # libFuzzer and clang's OpenMP, for the fuzz targets (scripts/fuzz.sh)
          clang libclang-rt-dev libomp-dev)
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
