# SPDX-License-Identifier: BSD-2-Clause
"""Shared by the ONNX checks: running crema, ONNX's checker and ONNX Runtime, comparing outputs."""

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

CREMA = os.environ.get("CREMA", "crema")
RANDOM_WEIGHTS = os.environ.get("RANDOM_WEIGHTS", "onnx_random_weights")
SOURCE_DIR = Path(os.environ.get("CREMA_SOURCE_DIR", Path(__file__).resolve().parents[2]))
# crema test's outputs and ONNX Runtime's agree within this, relative to the largest output value.
TOLERANCE = 1e-4


class CheckFailed(Exception):
    pass


def run(args, cwd=None, expect_ok=True):
    """Runs a command; returns (status, stdout + stderr). Raises when it fails and should not."""
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False)
    out = p.stdout + p.stderr
    if expect_ok and p.returncode != 0:
        raise CheckFailed(
            f"{' '.join(str(a) for a in args)} failed ({p.returncode}):\n{out[-3000:]}"
        )
    return p.returncode, out


def crema_outputs(model, weights, inputs, work: Path, blobs=()):
    """crema test's outputs for `inputs` ({blob: array}), through -input and -save_outputs, and
    the blobs named in `blobs`."""
    work.mkdir(parents=True, exist_ok=True)
    out_dir = work / "crema_out"
    args = [CREMA, "test", "-model", model, "-iterations", "1", "-save_outputs", out_dir]
    for b in blobs:
        args += ["-save_blob", b]
    if weights:
        args += ["-weights", weights]
    for name, value in inputs.items():
        path = work / f"input_{name}.npy"
        np.save(path, value)
        args += ["-input", f"{name}={path}"]
    run(args)
    return {p.stem: np.load(p) for p in out_dir.glob("*.npy")}


def check_model(path):
    """ONNX's strict checker: the full check runs shape inference with errors as failures."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    return model


def ort_session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def random_inputs(session, batch, seed):
    rng = np.random.default_rng(seed)
    inputs = {}
    for i in session.get_inputs():
        shape = [batch if not isinstance(d, int) else d for d in i.shape]
        inputs[i.name] = rng.standard_normal(shape).astype(np.float32)
    return inputs


def relative_error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise CheckFailed(f"shapes differ: {got.shape} vs {want.shape}")
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-12))


def compare_outputs(label, got: dict, want: dict, names, tolerance=TOLERANCE):
    """Each output in `names` agrees within TOLERANCE; returns the worst relative error. An ONNX
    value "blob/layer" (an in-place layer's write) is crema's blob "blob" (blob names may hold
    "/" themselves)."""
    worst = 0.0
    for name in names:
        key = name.replace("/", "_")
        if key not in want:  # "blob/layer": an in-place layer's write of blob
            key = name.rsplit("/", 1)[0].replace("/", "_")
        if key not in want:
            raise CheckFailed(f"{label}: crema wrote no output '{key}' (it wrote {sorted(want)})")
        err = relative_error(got[name], want[key])
        if not np.isfinite(err) or err > tolerance:
            raise CheckFailed(f"{label}: output '{name}' differs by {err:.3g} (relative)")
        worst = max(worst, err)
    return worst


def export_and_compare(label, net, work: Path, shape=None, batch=2, seed=1, tolerance=TOLERANCE):
    """Random weights, crema export, the checker, and ORT against crema test on one input."""
    work.mkdir(parents=True, exist_ok=True)
    weights, deploy, onnx_path = work / "w.caffemodel", work / "deploy.prototxt", work / "m.onnx"
    args = [RANDOM_WEIGHTS, net, weights, seed]
    if shape:
        args += [",".join(map(str, shape)), deploy]
    run(args)
    if not shape:
        deploy = net
    export = [CREMA, "export", "-model", net, "-weights", weights, "-out", onnx_path]
    if shape:
        export += ["-input_shape", ",".join(map(str, shape))]
    run(export)
    model = check_model(onnx_path)
    # A random net's Softmax saturates: compare what goes into each output Softmax as well.
    outputs = {o.name for o in model.graph.output}
    logits = [
        n.input[0] for n in model.graph.node if n.op_type == "Softmax" and n.output[0] in outputs
    ]
    for name in logits:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = random_inputs(session, batch, seed)
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    tops = set(re.findall(r'top:\s*"([^"]+)"', Path(deploy).read_text()))
    blobs = {n if n in tops else n.rsplit("/", 1)[0] for n in logits}
    want = crema_outputs(deploy, weights, inputs, work, blobs)
    return compare_outputs(label, got, want, list(got), tolerance)
