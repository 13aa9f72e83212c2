#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# One group of the ONNX checks (tests/onnx/onnx_checks.py) in the test environment.
#   usage: run.sh net_defs|corpus|cases|import   (environment: CREMA, RANDOM_WEIGHTS,
#          CREMA_SOURCE_DIR, CREMA_CORPUS_DIR; tests/onnx/CMakeLists.txt sets them)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=$("$here/setup_venv.sh")
status=$?
[ $status -eq 0 ] || exit $status
exec "$python" "$here/onnx_checks.py" "$@"
