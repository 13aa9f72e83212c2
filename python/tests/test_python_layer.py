# SPDX-License-Identifier: BSD-2-Clause
"""The Python layer (type "Python") in `crema train` and inside `import crema`.

The layers' modules (pylayers/) are copied beside the prototxt that names them: crema finds them
there, as Caffe users keep them.
"""

import json
import shutil
import sys
from pathlib import Path

import crema
import numpy as np
import pytest
from conftest import TESTS, run_crema, write

TRAIN_NET = """
name: "separable"
layer { name: "data" type: "Python" top: "x" top: "label"
  python_param { module: "pydata" layer: "SeparableData" param_str: "16" } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "y" bottom: "label" top: "accuracy"
  include { phase: TEST } }
"""

LOSS_NET = """
name: "with_python_loss"
force_backward: true
layer { name: "data" type: "Input" top: "a" top: "b"
  input_param { shape { dim: 5 dim: 4 } shape { dim: 5 dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "a" top: "y"
  inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "loss" type: "LOSS_TYPE" bottom: "y" bottom: "b" top: "loss"
  LOSS_PARAM loss_weight: 2 }
"""
PYTHON_LOSS = 'python_param { module: "pyloss" layer: "EuclideanLossLayer" }'


def beside(folder, *modules):
    folder.mkdir(parents=True, exist_ok=True)
    for m in modules:
        shutil.copy(TESTS / "pylayers" / f"{m}.py", folder / f"{m}.py")
    return folder


def solver(folder, max_iter, net=TRAIN_NET):
    write(folder / "net.prototxt", net)
    return write(
        folder / "solver.prototxt",
        f'net: "{folder / "net.prototxt"}"\ntest_iter: 10\ntest_interval: 100\nbase_lr: 0.1\n'
        f'momentum: 0.9\nlr_policy: "fixed"\nmax_iter: {max_iter}\ndisplay: 10\nrandom_seed: 3\n'
        f'snapshot_prefix: "{folder / "run"}"\nsolver_mode: CPU\n',
    )


def test_python_data_layer_feeds_crema_train(tmp_path):
    folder = beside(tmp_path / "train", "pydata")
    run = run_crema("train", "-solver", solver(folder, 200), "-threads", 1, cwd=tmp_path)
    accuracy = float(run.stdout.split("Final test accuracy: ")[1].split()[0])
    assert accuracy > 0.95, run.stdout  # clusters 2 apart, noise 0.7: separable
    records = [json.loads(line) for line in (folder / "run_metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert losses[0] > 0.5 and losses[-1] < 0.2 * losses[0], losses


def test_exception_in_forward_is_reported_by_crema_train_with_its_traceback(tmp_path):
    folder = beside(tmp_path / "bad", "pyloss")
    net = TRAIN_NET.replace(
        'layer { name: "fc"',
        'layer { name: "check" type: "Python" bottom: "x" top: "x2"\n'
        '  python_param { module: "pyloss" layer: "RaisesInForward" } }\nlayer { name: "fc"',
    )
    missing = net.replace('module: "pydata"', 'module: "pydata_missing_on_purpose"')
    run = run_crema("train", "-solver", solver(folder, 5, missing), "-overwrite", check=False)
    assert run.returncode == 1, run.stderr  # an error, not a signal
    assert "pydata_missing_on_purpose" in run.stderr and "ModuleNotFoundError" in run.stderr

    beside(folder, "pydata")
    run = run_crema("train", "-solver", solver(folder, 5, net), "-overwrite", check=False)
    assert run.returncode == 1, run.stderr
    for expected in [
        "layer 'check' (Python) forward: pyloss.RaisesInForward.forward() raised",
        "Traceback (most recent call last)",
        str(folder / "pyloss.py"),
        "in check_batch",
        "ValueError: batch of shape (16, 6) refused on purpose",
    ]:
        assert expected in run.stderr, run.stderr


def loss_net(folder, python):
    text = LOSS_NET.replace("LOSS_TYPE", "Python" if python else "EuclideanLoss")
    text = text.replace("LOSS_PARAM", PYTHON_LOSS if python else "")
    name = "python_loss" if python else "cpp_loss"
    return crema.Net(str(write(folder / f"{name}.prototxt", text)), crema.TRAIN)


def test_python_loss_in_import_crema_equals_the_cpp_loss(tmp_path):
    folder = beside(tmp_path / "loss", "pyloss")
    py, cpp = loss_net(folder, True), loss_net(folder, False)
    cpp.params["ip"][0].data[...] = py.params["ip"][0].data
    cpp.params["ip"][1].data[...] = py.params["ip"][1].data
    rng = np.random.default_rng(4)
    inputs = {"a": rng.standard_normal((5, 4)), "b": rng.standard_normal((5, 4))}
    for net in (py, cpp):
        net.forward(**inputs)
        net.clear_param_diffs()
        net.backward()
    np.testing.assert_allclose(py.blobs["loss"].data.sum(), cpp.blobs["loss"].data, rtol=1e-5)
    for blob in ("y", "a", "b"):
        np.testing.assert_allclose(
            py.blobs[blob].diff, cpp.blobs[blob].diff, rtol=1e-5, atol=1e-7, err_msg=blob
        )
    np.testing.assert_allclose(py.params["ip"][0].diff, cpp.params["ip"][0].diff, rtol=1e-5)


def test_exception_in_forward_raises_in_python_with_its_traceback(tmp_path):
    folder = beside(tmp_path / "raises", "pyloss")
    text = (
        'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 3 dim: 2 } } }\n'
        'layer { name: "check" type: "Python" bottom: "x" top: "x2"\n'
        '  python_param { module: "pyloss" layer: "RaisesInForward" } }\n'
    )
    net = crema.Net(str(write(folder / "raises.prototxt", text)))
    with pytest.raises(RuntimeError) as info:
        net.forward()
    message = str(info.value)
    assert "pyloss.RaisesInForward.forward() raised" in message
    assert "in check_batch" in message and "ValueError: batch of shape (3, 2)" in message
    assert net.blobs["x"].shape == (3, 2)  # the net is still there to inspect


def rss_kib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4


def test_a_thousand_steps_leak_no_references_nor_memory(tmp_path):
    folder = beside(tmp_path / "leak", "pydata", "pyloss")
    net = TRAIN_NET.replace(
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }',
        'layer { name: "onehot" type: "InnerProduct" bottom: "x" top: "target"\n'
        "  param { lr_mult: 0 } param { lr_mult: 0 }\n"
        '  inner_product_param { num_output: 2 weight_filler { type: "constant" value: 0.1 } } }\n'
        'layer { name: "loss" type: "Python" bottom: "y" bottom: "target" top: "loss"\n'
        f"  {PYTHON_LOSS} loss_weight: 1 }}",
    )
    path = write(
        folder / "solver.prototxt",
        solver(folder, 1200, net)
        .read_text()
        .replace("test_iter: 10\ntest_interval: 100\n", "")
        .replace("display: 10", "display: 0"),
    )
    s = crema.SGDSolver(str(path))
    s.step(100)  # warm up: numpy's and the allocator's caches
    blocks, rss = sys.getallocatedblocks(), rss_kib()
    refs = sys.getrefcount(np), sys.getrefcount(crema.Layer)
    s.step(1000)
    assert s.iter == 1100
    assert sys.getallocatedblocks() - blocks < 200, "Python objects accumulate"
    assert (sys.getrefcount(np), sys.getrefcount(crema.Layer)) == refs
    assert rss_kib() - rss < 2048, "memory grows"
