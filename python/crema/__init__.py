# SPDX-License-Identifier: BSD-2-Clause
"""crema from Python, with pycaffe's names: ``import crema as caffe`` runs pycaffe scripts.

Net, Blob, the solvers, the run mode and Layer (the base of Python layers). See docs/PYTHON.md.
"""

from . import _crema
from ._crema import (
    Blob,
    ParseError,
    add_plugin_dir,
    built_with_cuda,
    device_count,
    layer_types,
    mode,
    num_threads,
    plugin_dirs,
    set_device,
    set_mode_cpu,
    set_mode_gpu,
    set_num_threads,
    solver_types,
)
from ._paths import plugin_dir as _plugin_dir
from .layer import Layer
from .net import TEST, TRAIN, Net
from .solver import (
    AdaDeltaSolver,
    AdaGradSolver,
    AdamSolver,
    NesterovSolver,
    RMSPropSolver,
    SGDSolver,
    Solver,
    get_solver,
)

# The layer plugins built or installed with this module (CREMA_PLUGIN_PATH and add_plugin_dir
# add others).
if _plugin_dir is not None:
    add_plugin_dir(_plugin_dir)

__all__ = [
    "TEST",
    "TRAIN",
    "AdaDeltaSolver",
    "AdaGradSolver",
    "AdamSolver",
    "Blob",
    "Layer",
    "NesterovSolver",
    "Net",
    "ParseError",
    "RMSPropSolver",
    "SGDSolver",
    "Solver",
    "add_plugin_dir",
    "built_with_cuda",
    "device_count",
    "get_solver",
    "layer_types",
    "mode",
    "num_threads",
    "plugin_dirs",
    "set_device",
    "set_mode_cpu",
    "set_mode_gpu",
    "set_num_threads",
    "solver_types",
    "_crema",
]
