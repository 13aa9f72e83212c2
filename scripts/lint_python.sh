#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Lints Python with ruff (settings: pyproject.toml): `ruff check` and `ruff format --check` on the
# files or folders given, else on tools/ and tests/. Ruff is a pinned PyPI release installed into
# .venv-lint/ at the repository root on the first run (needs network once) and reused after.
#   usage: scripts/lint_python.sh [PATH ...]
set -euo pipefail
ruff_version=0.17.6
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$repo/.venv-lint
ruff=$venv/bin/ruff
if [ "$("$ruff" --version 2>/dev/null)" != "ruff $ruff_version" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ruff==$ruff_version"
fi
[ $# -gt 0 ] || set -- "$repo/tools" "$repo/tests"
# No --config: ruff finds pyproject.toml above each file, so its relative `src` means the same
# from any working directory. One cache, in the repository, whatever the working directory.
export RUFF_CACHE_DIR=$repo/.ruff_cache
status=0
"$ruff" check "$@" || status=1
"$ruff" format --check "$@" || status=1
if [ "$status" -ne 0 ]; then
  echo "lint_python: fix with $ruff format PATH... and $ruff check --fix PATH... (then review)" >&2
fi
exit "$status"
