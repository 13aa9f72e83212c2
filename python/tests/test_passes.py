# SPDX-License-Identifier: BSD-2-Clause
"""forward and backward from Python give what `crema test` prints and what numpy derives."""

import re

import crema
import numpy as np
import pytest
from conftest import REGRESSION_NET, run_crema, write

SCORED_NET = """
name: "scored"
layer { name: "data" type: "DummyData" top: "data"
  dummy_data_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 }
                     data_filler { type: "gaussian" std: 1 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.3 }
                      bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
  inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.1 }
                        bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
"""


def test_forward_equals_crema_test(tmp_path):
    model = write(tmp_path / "scored.prototxt", SCORED_NET)
    weights = tmp_path / "scored.caffemodel"
    crema.Net(str(model), crema.TEST).save(str(weights))  # random weights, saved

    printed = run_crema(
        "test", "-model", model, "-weights", weights, "-iterations", 1, "-threads", 1
    ).stdout
    expected = [float(v) for v in re.findall(r"^Batch 0, prob = (\S+)$", printed, re.M)]
    assert len(expected) == 10, printed

    net = crema.Net(str(model), str(weights), crema.TEST)
    prob = net.forward()["prob"]
    np.testing.assert_allclose(prob.ravel(), expected, rtol=1e-5, atol=1e-6)
    # And the InnerProduct and softmax by hand, from the blobs Python sees.
    w, b = (p.data for p in net.params["ip"])
    logits = net.blobs["conv"].data.reshape(2, -1) @ w.T + b
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(prob, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_backward_equals_the_gradients_numpy_derives(tmp_path):
    # force_backward: Caffe's way to get the inputs' gradients too.
    model = write(tmp_path / "r.prototxt", "force_backward: true\n" + REGRESSION_NET)
    net = crema.Net(str(model), crema.TRAIN)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    t = rng.standard_normal((4, 3)).astype(np.float32)
    loss = net.forward(x=x, t=t)["loss"]
    net.clear_param_diffs()
    diffs = net.backward()

    w, b = (p.data.astype(np.float64) for p in net.params["ip"])
    y = x @ w.T + b
    np.testing.assert_allclose(loss, ((y - t) ** 2).sum() / 4 / 2, rtol=1e-5)
    dy = (y - t) / 4  # E = sum((y - t)^2) / (2N)
    np.testing.assert_allclose(net.params["ip"][0].diff, dy.T @ x, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.params["ip"][1].diff, dy.sum(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(diffs["x"], dy @ w, rtol=1e-4, atol=1e-6)


def test_save_and_copy_from_round_trip(tmp_path):
    model = str(write(tmp_path / "r.prototxt", REGRESSION_NET))
    a, b = crema.Net(model, crema.TEST), crema.Net(model, crema.TEST)
    a.params["ip"][0].data[...] = np.arange(18).reshape(3, 6)
    a.save(str(tmp_path / "a.caffemodel"))
    assert not np.array_equal(b.params["ip"][0].data, a.params["ip"][0].data)
    summary = b.copy_from(str(tmp_path / "a.caffemodel"))
    assert summary == "copied weights into 1 layer(s)"
    np.testing.assert_array_equal(b.params["ip"][0].data, np.arange(18).reshape(3, 6))
    c = crema.Net(model, weights=str(tmp_path / "a.caffemodel"))
    np.testing.assert_array_equal(c.params["ip"][1].data, a.params["ip"][1].data)


def test_gpu_mode_gives_the_cpu_results(tmp_path):
    if crema.device_count() == 0:
        built = "built with CUDA, no device" if crema.built_with_cuda() else "built without CUDA"
        pytest.skip(f"no GPU ({built})")
    model = str(write(tmp_path / "scored.prototxt", SCORED_NET))
    cpu = crema.Net(model, crema.TEST)
    cpu.save(str(tmp_path / "w.caffemodel"))
    expected = cpu.forward()["prob"].copy()
    crema.set_device(0)
    crema.set_mode_gpu()
    try:
        gpu = crema.Net(model, str(tmp_path / "w.caffemodel"), crema.TEST)
        assert crema.mode() == "GPU"
        np.testing.assert_allclose(gpu.forward()["prob"], expected, rtol=1e-4, atol=1e-6)
        gpu.blobs["conv"].data[...] = 0  # a write on the host reaches the device copy
        gpu.forward(start="ip")
        logits = gpu.params["ip"][1].data
        e = np.exp(logits - logits.max())
        np.testing.assert_allclose(gpu.blobs["prob"].data[0], e / e.sum(), rtol=1e-4, atol=1e-6)
    finally:
        crema.set_mode_cpu()
