# SPDX-License-Identifier: BSD-2-Clause
"""Shared fixtures of the crema Python module's tests: the crema command, small nets."""

import os
import subprocess
import sys
from pathlib import Path

import crema
import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent

# Random inputs and labels each iteration, a hidden layer with dropout, softmax loss (the
# solver tests' net, tests/solver/tiny_net.hpp).
TINY_TRAIN_NET = """
name: "tiny"
layer { name: "data" type: "DummyData" top: "x" top: "label"
  dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
                     data_filler { type: "gaussian" std: 1 }
                     data_filler { type: "uniform" min: 0 max: 2.99 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "h"
  inner_product_param { num_output: 5 weight_filler { type: "xavier" }
                        bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
layer { name: "drop" type: "Dropout" bottom: "h" top: "h" dropout_param { dropout_ratio: 0.3 } }
layer { name: "fc2" type: "InnerProduct" bottom: "h" top: "y"
  param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
"""

# Fed from numpy: an InnerProduct and a Euclidean loss, whose gradients numpy computes by hand.
REGRESSION_NET = """
name: "regression"
layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 4 dim: 6 } } }
layer { name: "target" type: "Input" top: "t" input_param { shape { dim: 4 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"
  inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 }
                        bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "loss" }
"""


def crema_bin():
    path = os.environ.get("CREMA_BIN")
    if not path:
        pytest.skip("CREMA_BIN is not set (CTest sets it to the crema command)")
    return path


def run_crema(*args, cwd=None, check=True):
    """The crema command, its output as text; fails the test with both streams on an error."""
    run = subprocess.run(
        [crema_bin(), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    if check and run.returncode != 0:
        pytest.fail(f"crema {' '.join(map(str, args))} failed:\n{run.stdout}\n{run.stderr}")
    return run


def run_python(script, *args, cwd=None, env=None):
    """A Python script in a fresh interpreter with this package importable."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )


@pytest.fixture(autouse=True)
def one_thread():
    """One thread, as `crema ... -threads 1`: sums in the same order as the command's."""
    crema.set_mode_cpu()
    crema.set_num_threads(1)
    yield


def write(path, text):
    path = Path(path)
    path.write_text(text)
    return path
