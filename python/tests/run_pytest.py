#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs the tests in a folder with pytest; exit 77 (CTest's skip) with the reason without it."""

import sys

try:
    import pytest
except ImportError:
    print("skipped: pytest is not installed (Debian: python3-pytest; scripts/install_deps.sh)")
    sys.exit(77)

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
