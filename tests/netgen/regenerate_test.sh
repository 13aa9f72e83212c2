#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Every file under net_defs/ (nets and solvers; the *.md docs excepted) is the output of
# tools/netgen/netgen.py --all: regenerate into a temporary directory and compare. A difference
# means a hand edit or a generator change without `python3 tools/netgen/netgen.py --all`.
set -eu
SRC=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 "$SRC/tools/netgen/netgen.py" --all --out-dir "$TMP/net_defs"
# Excluded: documentation written by hand (FIELD_NUMBERS.md, README.md, ...).
if diff -r -x '*.md' "$SRC/net_defs" "$TMP/net_defs"; then
  echo "net_defs/ matches netgen.py --all ($(find "$TMP/net_defs" -type f | wc -l) files)"
else
  echo "net_defs/ differs from tools/netgen/netgen.py --all (see above): regenerate with" >&2
  echo "  python3 tools/netgen/netgen.py --all" >&2
  exit 1
fi
