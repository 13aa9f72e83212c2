# SPDX-License-Identifier: BSD-2-Clause
"""Hand-written nets for the edge cases of the export (tests/onnx/nets/)."""

import os
import time
from pathlib import Path

import onnx
from onnx_support import CREMA, CheckFailed, export_and_compare, run

NETS = Path(__file__).resolve().parent / "nets"


def node_ops(path):
    return [(n.op_type, n.name) for n in onnx.load(str(path)).graph.node]


def check_bn_scale_folded(work: Path):
    """BatchNorm + Scale is one BatchNormalization, no Mul left; BatchNorm alone has its own."""
    ops = node_ops(work / "m.onnx")
    names = {name for _, name in ops}
    if "bn1+scale1" not in names:
        raise CheckFailed(f"BatchNorm bn1 and Scale scale1 were not folded: {ops}")
    if any(op == "Mul" and name.startswith("scale1") for op, name in ops):
        raise CheckFailed("scale1 was exported as a Mul as well as folded")
    if "bn2" not in names or "scale3" not in names:
        raise CheckFailed(f"BatchNorm alone (bn2) or Scale alone (scale3) missing: {ops}")


def check_pool_overhang(work: Path):
    """AVE pooling with a ceil overhang past the padding gets Caffe's divisors (a Mul after the
    AveragePool); the cases without one do not."""
    corrected = {name.split("/")[0] for op, name in node_ops(work / "m.onnx") if op == "Mul"}
    # Along W = 8: k3 s2 p1 gives 5 windows, the last [7, 10) past 8 + 1; k2 s2 p0 gives 4, the
    # last [6, 8)... no: ceil(6 / 2) + 1 = 4 windows, the last [6, 8) inside, but along H = 7 the
    # last is [6, 8) past 7; k4 s3 p2 gives 4 windows along W, the last [7, 11) past 8 + 2.
    if corrected != {"a_k3s2p1", "a_k2s2", "a_drop"}:
        raise CheckFailed(f"divisor corrections on {sorted(corrected)}")


def with_hooked_plugin():
    """Subprocesses find the test plugin with an export hook (CREMA_PLUGIN_PATH)."""
    hooked = os.environ.get("CREMA_TEST_HOOKED_PLUGIN_DIR", "")
    if not hooked:
        raise CheckFailed("CREMA_TEST_HOOKED_PLUGIN_DIR is not set (tests/onnx/CMakeLists.txt)")
    path = os.environ.get("CREMA_PLUGIN_PATH", "")
    os.environ["CREMA_PLUGIN_PATH"] = hooked + (":" + path if path else "")


def check_plugin_nodes(work: Path):
    """The plugin's nodes are in the model: Mul, Tanh, Mul, Add named after the layer."""
    ops = [(op, name) for op, name in node_ops(work / "m.onnx") if name.startswith("hooked")]
    if [op for op, _ in ops] != ["Mul", "Tanh", "Mul", "Add"]:
        raise CheckFailed(f"the hook's nodes are not in the model: {ops}")


def plugin_refusal(work: Path):
    """A hook that refuses: crema export names the layer and gives the plugin's reason."""
    work.mkdir(parents=True, exist_ok=True)
    status, out = run(
        [CREMA, "export", "-model", NETS / "plugin_refuses.prototxt", "-out", work / "r.onnx"],
        expect_ok=False,
    )
    if status != 1 or "'refuser' (HookedRefuser)" not in out or "on purpose" not in out:
        raise CheckFailed(f"status {status}, message:\n{out}")
    return 0.0


CASES = [
    ("pooling_ceil_pad", "pooling_ceil_pad.prototxt", None),
    ("pooling_ave_border", "pooling_ave_border.prototxt", check_pool_overhang),
    ("bn_scale_fold", "bn_scale_fold.prototxt", check_bn_scale_folded),
    ("layers", "layers.prototxt", None),
    ("plugin_hook", "plugin_hook.prototxt", check_plugin_nodes),
]


def run_all(work: Path):
    failures = []
    with_hooked_plugin()
    for name, file, extra in CASES:
        start = time.time()
        try:
            err = export_and_compare(name, NETS / file, work / name, batch=2)
            if extra:
                extra(work / name)
            print(
                f"PASS case {name}: max relative difference {err:.2e} ({time.time() - start:.1f} s)"
            )
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            print(f"FAIL case {name}: {e}")
            failures.append(name)
    try:
        plugin_refusal(work / "plugin_refusal")
        print("PASS case plugin_refusal: the hook's reason reported")
    except Exception as e:  # noqa: BLE001 - reported, then counted
        print(f"FAIL case plugin_refusal: {e}")
        failures.append("plugin_refusal")
    return failures
