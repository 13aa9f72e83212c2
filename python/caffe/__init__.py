# SPDX-License-Identifier: BSD-2-Clause
"""`import caffe` for Caffe's Python layers and scripts: crema under pycaffe's module name."""

from crema import *  # noqa: F403
from crema import Layer, Net, get_solver  # noqa: F401
