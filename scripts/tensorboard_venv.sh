#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Creates .venv-tensorboard/ at the repository root holding a pinned PyPI tensorboard (needs
# network once, then reused), for the test that reads crema's event files back with TensorBoard's
# own reader, and prints the environment's python. Fails, saying why, when it cannot be created.
#   usage: scripts/tensorboard_venv.sh
set -euo pipefail
tensorboard_version=2.21.0
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$repo/.venv-tensorboard
py=$venv/bin/python
have() { "$py" -c "import sys, tensorboard; sys.exit(tensorboard.__version__ != '$1')" 2>/dev/null; }
if ! have "$tensorboard_version"; then
  python3 -m venv "$venv" >&2 || { echo "python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "tensorboard==$tensorboard_version" >&2 ||
    { echo "pip install tensorboard==$tensorboard_version failed (no network to PyPI?)" >&2; exit 1; }
  have "$tensorboard_version" || { echo "tensorboard $tensorboard_version does not import in $venv" >&2; exit 1; }
fi
echo "$py"
