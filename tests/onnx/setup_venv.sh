#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Creates .venv-onnx/ at the repository root with pinned PyPI releases of onnx (the checker),
# onnxruntime (the reference runtime) and numpy, once (needs the network then), and prints its
# python. Exits 77 (ctest: skipped) with the reason on stderr when it cannot be created.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=$repo/.venv-onnx
pins="onnx==1.17.0 onnxruntime==1.20.1 numpy==2.1.3"
stamp=$venv/.pins
exec 9>"$repo/.venv-onnx.lock"
flock 9  # ctest -j: one creator at a time
if [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ]; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >&2; then
    echo "skipped: python3 -m venv failed (install python3-venv: scripts/install_deps.sh)" >&2
    exit 77
  fi
  # shellcheck disable=SC2086
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check $pins >&2; then
    echo "skipped: cannot install $pins from PyPI into $venv (no network?)" >&2
    rm -rf "$venv"
    exit 77
  fi
  echo "$pins" > "$stamp"
fi
echo "$venv/bin/python"
