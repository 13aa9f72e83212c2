# SPDX-License-Identifier: BSD-2-Clause
"""net.blobs and net.params view crema's memory: no copy, and writes reach the net."""

import crema
import numpy as np
import pytest
from conftest import REGRESSION_NET, write


@pytest.fixture
def net(tmp_path):
    return crema.Net(str(write(tmp_path / "net.prototxt", REGRESSION_NET)), crema.TRAIN)


def test_data_and_diff_view_the_same_memory_each_time(net):
    a, b = net.blobs["x"].data, net.blobs["x"].data
    assert a.dtype == np.float32 and a.shape == (4, 6)
    assert np.shares_memory(a, b)
    a[...] = 3.5
    assert (net.blobs["x"].data == 3.5).all()
    d1, d2 = net.blobs["y"].diff, net.blobs["y"].diff
    assert np.shares_memory(d1, d2) and not np.shares_memory(d1, net.blobs["y"].data)


def test_writes_reach_the_forward_pass(net):
    """Inputs and weights written through the views are what the C++ layers compute with."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    w = rng.standard_normal((3, 6)).astype(np.float32)
    net.blobs["x"].data[...] = x
    net.params["ip"][0].data[...] = w
    net.params["ip"][1].data[...] = 0.25
    net.forward()
    np.testing.assert_allclose(net.blobs["y"].data, x @ w.T + 0.25, rtol=1e-5, atol=1e-5)


def test_a_kept_array_sees_what_the_net_writes(net):
    y = net.blobs["y"].data  # taken before forward
    net.blobs["x"].data[...] = 1
    net.forward()
    w, b = net.params["ip"][0].data, net.params["ip"][1].data
    np.testing.assert_allclose(y, np.ones((4, 6)) @ w.T + b, rtol=1e-5, atol=1e-5)


def test_array_keeps_the_net_alive(tmp_path):
    arr = crema.Net(str(write(tmp_path / "n.prototxt", REGRESSION_NET))).params["ip"][0].data
    import gc

    gc.collect()
    assert arr.shape == (3, 6) and np.isfinite(arr).all()


def test_shapes_reshape_and_layers(net):
    assert net.blobs["x"].shape == (4, 6)
    assert net.blobs["loss"].shape == ()
    assert (net.blobs["x"].num, net.blobs["x"].channels, net.blobs["x"].count) == (4, 6, 24)
    assert net.inputs == ["x", "t"] and net.outputs == ["loss"]
    assert net._layer_names == ["data", "target", "ip", "loss"]
    assert [layer.type for layer in net.layers] == [
        "Input",
        "Input",
        "InnerProduct",
        "EuclideanLoss",
    ]
    assert list(net.params) == ["ip"] and [p.shape for p in net.params["ip"]] == [(3, 6), (3,)]
    net.blobs["x"].reshape(2, 6)
    net.blobs["t"].reshape((2, 3))
    out = net.forward()
    assert net.blobs["y"].shape == (2, 3) and out["loss"].shape == ()


def test_forward_with_inputs_reshapes_and_returns_outputs(net):
    x = np.ones((7, 6), np.float32)
    t = np.zeros((7, 3), np.float32)
    out = net.forward(x=x, t=t, blobs=["y"])
    assert set(out) == {"loss", "y"} and out["y"].shape == (7, 3)
    np.testing.assert_allclose(out["loss"], (out["y"] ** 2).sum() / 7 / 2, rtol=1e-5)


def test_assigning_a_whole_array_copies_it_in(net):
    net.blobs["x"].data = np.full((4, 6), 2.0)
    assert (net.blobs["x"].data == 2).all()
    with pytest.raises(ValueError, match=r"5 values.*\(4,6\)"):
        net.blobs["x"].data = np.zeros(5)


def test_forward_and_backward_over_a_range_of_layers(net):
    net.blobs["x"].data[...] = 1
    out = net.forward(end="ip")
    assert set(out) == {"y"}
    w, b = net.params["ip"][0].data, net.params["ip"][1].data
    np.testing.assert_allclose(out["y"], np.ones((4, 6)) @ w.T + b, rtol=1e-5, atol=1e-6)
    net.clear_param_diffs()
    net.backward(start="ip", y=np.ones((4, 3)))  # dE/dy given, the loss layer skipped
    np.testing.assert_allclose(net.params["ip"][1].diff, [4, 4, 4], rtol=1e-6)
    np.testing.assert_allclose(net.params["ip"][0].diff, np.full((3, 6), 4.0), rtol=1e-6)


BF16_NET = """
name: "bf16 storage"
default_forward_type: BFLOAT16
layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
layer { name: "pool" type: "Pooling" bottom: "c" top: "p"
  pooling_param { pool: AVE global_pooling: true } }
"""


def cpu_has_avx512_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return False


def test_a_blob_stored_in_bf16_reads_as_a_read_only_fp32_copy(tmp_path):
    if not cpu_has_avx512_bf16():
        pytest.skip("this CPU lacks AVX512_BF16: every blob stays fp32")
    net = crema.Net(str(write(tmp_path / "n.prototxt", BF16_NET)), crema.TRAIN)
    net.blobs["x"].data[...] = np.linspace(-1, 1, net.blobs["x"].data.size).reshape(2, 3, 4, 4)
    net.forward()
    c = net.blobs["c"].data
    assert c.dtype == np.float32 and c.shape == (2, 4, 4, 4)
    assert not c.flags.writeable
    # bf16 keeps 8 significant bits: every value has zeros in its low 16 bits.
    assert np.all(c.view(np.uint32) & 0xFFFF == 0)
    assert np.all(c >= 0)  # after the ReLU
    # The pooled output (the net's output) stays fp32 and equals the mean of the stored values:
    # "c" is stored N,H,W,C (every layer on it declares that order), and reads N,C,H,W.
    np.testing.assert_allclose(net.blobs["p"].data[:, :, 0, 0], c.mean(axis=(2, 3)), rtol=1e-6)
    with pytest.raises(ValueError, match="stored in bf16"):
        net.blobs["c"].data = np.zeros(c.shape, np.float32)
