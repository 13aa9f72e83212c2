# SPDX-License-Identifier: BSD-2-Clause
"""examples/python: the three pycaffe-style scripts run (with `import crema as caffe`) and do
what they say, checked against crema directly."""

import crema
import numpy as np
import pytest
from conftest import REPO, run_python

EXAMPLES = REPO / "examples" / "python"
LENET = str(EXAMPLES / "models" / "lenet.prototxt")


def run_example(name, *args, cwd):
    run = run_python(EXAMPLES / name, *args, cwd=cwd)
    if run.returncode != 0:
        pytest.fail(f"{name} failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout


def test_net_surgery_copies_weights_between_nets(tmp_path):
    source = crema.Net(LENET, crema.TEST)
    source.params["conv1"][0].data[...] += 1  # not what the target's fillers would give
    source.save(str(tmp_path / "lenet.caffemodel"))
    out = run_example(
        "net_surgery.py",
        "--source-weights",
        tmp_path / "lenet.caffemodel",
        "--out",
        tmp_path / "finetune.caffemodel",
        cwd=tmp_path,
    )
    assert "fc_new: kept (no source layer)" in out and "fc6: copied from ip1" in out
    target_model = str(EXAMPLES / "models" / "lenet_finetune.prototxt")
    result = crema.Net(target_model, str(tmp_path / "finetune.caffemodel"), crema.TEST)
    fresh = crema.Net(target_model, crema.TEST)
    for mine, theirs in [("conv1", "conv1"), ("conv2", "conv2"), ("fc6", "ip1")]:
        for a, b in zip(result.params[mine], source.params[theirs]):
            np.testing.assert_array_equal(a.data, b.data, err_msg=mine)
    for a, b in zip(result.params["fc_new"], fresh.params["fc_new"]):
        np.testing.assert_array_equal(a.data, b.data)


def test_fully_convolutional_conversion(tmp_path):
    out = run_example("fully_convolutional.py", "--out", tmp_path / "full.caffemodel", cwd=tmp_path)
    assert "score grid 3x3" in out
    full = crema.Net(
        str(EXAMPLES / "models" / "lenet_full_conv.prototxt"),
        str(tmp_path / "full.caffemodel"),
        crema.TEST,
    )
    lenet = crema.Net(LENET, crema.TEST)  # the script's classifier: the same fillers and seed
    np.testing.assert_array_equal(
        full.params["ip1-conv"][0].data.reshape(500, 800), lenet.params["ip1"][0].data
    )
    np.testing.assert_array_equal(full.params["ip2-conv"][1].data, lenet.params["ip2"][1].data)


def write_pgm(path, pixels):
    path.write_bytes(b"P5\n# made by the test\n28 28\n255\n" + pixels.astype(np.uint8).tobytes())


def test_feature_extraction_over_a_folder_and_an_idx_file(tmp_path):
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images):
        write_pgm(folder / f"img{i}.pgm", image)
    idx = tmp_path / "images-idx3-ubyte"
    idx.write_bytes(np.array([0x803, 5, 28, 28], ">u4").tobytes() + images.tobytes())

    net = crema.Net(LENET, crema.TEST)
    expected = []
    for image in images:  # one image at a time, straight through crema
        net.forward(data=image[None, None].astype(np.float32) / 255)
        expected.append(net.blobs["ip1"].data[0].copy())

    for source in (["--images", folder], ["--idx", idx]):
        out = tmp_path / "features.npy"
        run_example("extract_features.py", *source, "--batch", 2, "--out", out, cwd=tmp_path)
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "features.txt").read_text().splitlines()[0] == "images-idx3-ubyte[0]"
