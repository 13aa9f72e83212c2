# SPDX-License-Identifier: BSD-2-Clause
"""crema's errors reach Python as exceptions with crema's message; nothing aborts."""

import crema
import pytest
from conftest import REGRESSION_NET, write


def test_parse_error_names_file_line_and_column(tmp_path):
    bad = write(tmp_path / "bad.prototxt", 'name: "x"\nlayer {\n  name: "a"\n  tpye: "ReLU"\n}\n')
    with pytest.raises(crema.ParseError, match=r"bad\.prototxt:4:\d+: .*tpye") as info:
        crema.Net(str(bad))
    assert isinstance(info.value, RuntimeError)


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(RuntimeError, match="no_such.prototxt"):
        crema.Net(str(tmp_path / "no_such.prototxt"))
    model = str(write(tmp_path / "r.prototxt", REGRESSION_NET))
    with pytest.raises(RuntimeError, match="missing.caffemodel"):
        crema.Net(model, str(tmp_path / "missing.caffemodel"), crema.TEST)
    with pytest.raises(ValueError, match="phase"):
        crema.Net(model, weights=None, phase=7)
    net = crema.Net(model)
    with pytest.raises(KeyError, match="nope"):
        net.forward(nope=[1.0])
    with pytest.raises(KeyError, match="nope"):
        net.forward(start="nope")
    with pytest.raises(ValueError, match="negative"):
        net.blobs["x"].reshape(-1, 3)
    with pytest.raises(RuntimeError, match="no_solver.prototxt"):
        crema.get_solver(str(tmp_path / "no_solver.prototxt"))


def test_a_net_that_cannot_be_built_says_why(tmp_path):
    wrong = REGRESSION_NET.replace('bottom: "t"', 'bottom: "missing_blob"')
    with pytest.raises(RuntimeError, match="missing_blob"):
        crema.Net(str(write(tmp_path / "w.prototxt", wrong)))
    unknown = REGRESSION_NET.replace('type: "EuclideanLoss"', 'type: "NoSuchLayer"')
    with pytest.raises(RuntimeError, match="NoSuchLayer"):
        crema.Net(str(write(tmp_path / "u.prototxt", unknown)))


def test_weights_of_another_net_are_refused(tmp_path):
    model = str(write(tmp_path / "r.prototxt", REGRESSION_NET))
    other = REGRESSION_NET.replace('name: "ip"', 'name: "other_ip"')
    crema.Net(str(write(tmp_path / "o.prototxt", other))).save(str(tmp_path / "o.caffemodel"))
    with pytest.raises(RuntimeError, match="o.caffemodel"):
        crema.Net(model).copy_from(str(tmp_path / "o.caffemodel"))


def test_gpu_mode_without_a_gpu_is_a_clear_error():
    if crema.device_count() > 0:
        pytest.skip("a GPU is present: this checks the machine without one")
    with pytest.raises(RuntimeError, match="set_mode_gpu: .+"):
        crema.set_mode_gpu()
    with pytest.raises(RuntimeError, match=r"set_device\(0\): .+"):
        crema.set_device(0)
    assert crema.mode() == "CPU"


def test_threads_and_plugin_path(tmp_path):
    crema.set_num_threads(2)
    assert crema.num_threads() == 2
    with pytest.raises(ValueError):
        crema.set_num_threads(-1)
    assert "InnerProduct" in crema.layer_types() and "Python" in crema.layer_types()
    crema.add_plugin_dir(str(tmp_path))
    assert str(tmp_path) in crema.plugin_dirs()
