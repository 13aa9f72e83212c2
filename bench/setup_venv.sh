#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Creates .venv-bench/ at the repository root with a current PyTorch and torchvision from PyPI, the
# peer crema's benchmarks run beside. For benchmarks only: tests and CI never use it (the wheels
# with their CUDA libraries are about 4 GB). Quick when the environment is already there.
#   usage: bench/setup_venv.sh      (prints the environment's python)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$repo/.venv-bench
if ! "$venv/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch torchvision >&2
fi
echo "$venv/bin/python"
