# SPDX-License-Identifier: BSD-2-Clause
"""crema import: round trip, a ResNet written by another tool (onnx.helper), fine-tuning it with
crema train, and the refusals (a damaged file, unsupported operators)."""

import re
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx_support import (
    CREMA,
    RANDOM_WEIGHTS,
    SOURCE_DIR,
    CheckFailed,
    check_model,
    compare_outputs,
    crema_outputs,
    ort_session,
    random_inputs,
    run,
)


def round_trip(work: Path):
    """export -> import -> crema test gives the original net's outputs (and ORT's)."""
    net = SOURCE_DIR / "net_defs/cifar/resnet20.prototxt"
    shape = "2,3,32,32"
    run([RANDOM_WEIGHTS, net, work / "w.caffemodel", 3, shape, work / "deploy.prototxt"])
    run(
        [
            CREMA,
            "export",
            "-model",
            net,
            "-weights",
            work / "w.caffemodel",
            "-input_shape",
            shape,
            "-out",
            work / "m.onnx",
        ]
    )
    run(
        [
            CREMA,
            "import",
            "-onnx",
            work / "m.onnx",
            "-out",
            work / "imported.prototxt",
            "-weights",
            work / "imported.caffemodel",
            "-batch",
            2,
        ]
    )
    session = ort_session(work / "m.onnx")
    inputs = random_inputs(session, 2, 3)
    original = crema_outputs(
        work / "deploy.prototxt", work / "w.caffemodel", inputs, work / "a", ["fc"]
    )
    imported = crema_outputs(
        work / "imported.prototxt", work / "imported.caffemodel", inputs, work / "b", ["fc"]
    )
    ort_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    err = compare_outputs("round trip (original vs imported)", imported, original, ["prob", "fc"])
    return max(err, compare_outputs("round trip (ORT vs imported)", ort_out, imported, ["prob"]))


def conv_bn(nodes, inits, rng, name, x, cin, cout, k, stride, relu=True):
    """Conv (no bias) + BatchNormalization (+ Relu), as torchvision's ResNets export them."""
    w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
    inits.append(numpy_helper.from_array(w, f"{name}.weight"))
    for suffix, value in (
        ("bn.weight", rng.uniform(0.5, 1.5, cout)),
        ("bn.bias", rng.normal(0, 0.1, cout)),
        ("bn.running_mean", rng.normal(0, 0.1, cout)),
        ("bn.running_var", rng.uniform(0.5, 1.5, cout)),
    ):
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}.{suffix}"))
    pad = k // 2
    nodes.append(
        helper.make_node(
            "Conv",
            [x, f"{name}.weight"],
            [f"{name}.conv"],
            name=f"{name}/conv",
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad] * 4,
        )
    )
    out = f"{name}.bn_out"
    nodes.append(
        helper.make_node(
            "BatchNormalization",
            [
                f"{name}.conv",
                f"{name}.bn.weight",
                f"{name}.bn.bias",
                f"{name}.bn.running_mean",
                f"{name}.bn.running_var",
            ],
            [out],
            name=f"{name}/bn",
            epsilon=1e-5,
        )
    )
    if relu:
        nodes.append(helper.make_node("Relu", [out], [f"{name}.relu"], name=f"{name}/relu"))
        out = f"{name}.relu"
    return out


def foreign_resnet(path: Path, seed=5):
    """A small ResNet (stem, max pool, two basic blocks, one with a projection shortcut, global
    average pool, Flatten, Gemm, Softmax) written with onnx.helper, opset 13."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = conv_bn(nodes, inits, rng, "stem", "image", 3, 8, 3, 1)
    nodes.append(
        helper.make_node(
            "MaxPool",
            [x],
            ["pool"],
            name="maxpool",
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
        )
    )
    a = conv_bn(nodes, inits, rng, "b1c1", "pool", 8, 8, 3, 1)
    b = conv_bn(nodes, inits, rng, "b1c2", a, 8, 8, 3, 1, relu=False)
    nodes.append(helper.make_node("Add", [b, "pool"], ["b1.sum"], name="b1/add"))
    nodes.append(helper.make_node("Relu", ["b1.sum"], ["b1.out"], name="b1/relu"))
    a = conv_bn(nodes, inits, rng, "b2c1", "b1.out", 8, 16, 3, 2)
    b = conv_bn(nodes, inits, rng, "b2c2", a, 16, 16, 3, 1, relu=False)
    s = conv_bn(nodes, inits, rng, "b2down", "b1.out", 8, 16, 1, 2, relu=False)
    nodes.append(helper.make_node("Add", [b, s], ["b2.sum"], name="b2/add"))
    nodes.append(helper.make_node("Relu", ["b2.sum"], ["b2.out"], name="b2/relu"))
    nodes.append(helper.make_node("GlobalAveragePool", ["b2.out"], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    inits.append(
        numpy_helper.from_array(
            (rng.standard_normal((10, 16)) * 0.3).astype(np.float32), "fc.weight"
        )
    )
    inits.append(numpy_helper.from_array(rng.normal(0, 0.1, 10).astype(np.float32), "fc.bias"))
    nodes.append(
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1)
    )
    nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1))
    graph = helper.make_graph(
        nodes,
        "tiny_resnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    model = helper.make_model(
        graph, producer_name="onnx.helper", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def foreign_import(work: Path):
    """Another tool's ResNet imports, and crema test matches ONNX Runtime on it."""
    foreign_resnet(work / "tiny_resnet.onnx")
    run(
        [
            CREMA,
            "import",
            "-onnx",
            work / "tiny_resnet.onnx",
            "-out",
            work / "tiny.prototxt",
            "-weights",
            work / "tiny.caffemodel",
            "-batch",
            3,
        ]
    )
    session = ort_session(work / "tiny_resnet.onnx")
    inputs = random_inputs(session, 3, 11)
    ort_out = dict(zip(["prob"], session.run(["prob"], inputs)))
    logits = ort_session_with_output(work / "tiny_resnet.onnx", "logits").run(["logits"], inputs)[0]
    ort_out["logits"] = logits
    want = crema_outputs(
        work / "tiny.prototxt", work / "tiny.caffemodel", inputs, work / "c", ["logits"]
    )
    return compare_outputs("foreign ResNet (ORT vs crema)", ort_out, want, ["prob", "logits"])


def ort_session_with_output(path, value):
    model = onnx.load(str(path))
    model.graph.output.append(helper.make_empty_tensor_value_info(value))
    import onnxruntime as ort  # noqa: PLC0415 - only this helper needs the module itself

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def write_cifar_like(path: Path, n, seed):
    """CIFAR-10's binary layout (a label byte, then 3x32x32 pixel bytes) with a learnable signal:
    each class brightens its own band of three rows."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    records = []
    for label in labels:
        img = rng.integers(0, 100, (3, 32, 32))
        img[:, label * 3 : label * 3 + 3, :] += 150
        records.append(np.concatenate([[label], img.ravel()]).astype(np.uint8))
    np.concatenate(records).tofile(path)


def fine_tune(work: Path):
    """The imported ResNet fine-tunes with crema train (generated train/test net and solver) and
    its loss falls."""
    onnx_path = work / "tiny_resnet.onnx"
    foreign_resnet(onnx_path, seed=6)
    # The data are CIFAR-sized: the same ResNet with a 32x32 input (global pooling makes the
    # weights fit any size).
    model = onnx.load(str(onnx_path))
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 32
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 32
    onnx.save(model, str(onnx_path))
    for split, n, seed in (("train", 256, 1), ("test", 64, 2)):
        write_cifar_like(work / f"{split}.bin", n, seed)
        run(
            [
                CREMA,
                "convert",
                "-format",
                "cifar10",
                "-input",
                work / f"{split}.bin",
                "-split",
                split,
                "-output",
                work / f"{split}_lmdb",
            ]
        )
    run(
        [
            CREMA,
            "import",
            "-onnx",
            onnx_path,
            "-out",
            work / "ft.prototxt",
            "-weights",
            work / "ft.caffemodel",
            "-train_net",
            work / "ft_train.prototxt",
            "-solver",
            work / "ft_solver.prototxt",
            "-train_source",
            work / "train_lmdb",
            "-test_source",
            work / "test_lmdb",
            "-train_batch",
            32,
            "-base_lr",
            0.05,
            "-max_iter",
            24,
        ]
    )
    _, log = run(
        [
            CREMA,
            "train",
            "-solver",
            work / "ft_solver.prototxt",
            "-weights",
            work / "ft.caffemodel",
        ],
        cwd=work,
    )
    losses = [float(v) for v in re.findall(r"Iteration \d+.*?, loss = ([-0-9.eE+]+)", log)]
    if len(losses) < 12:
        raise CheckFailed(f"crema train logged {len(losses)} losses:\n{log[-2000:]}")
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    if not last < 0.8 * first:
        raise CheckFailed(f"the loss did not fall: first iterations {first:.3f}, last {last:.3f}")
    return f"loss {first:.3f} -> {last:.3f} over {len(losses)} iterations"


def damaged_files(work: Path):
    """A truncated, an empty and a non-ONNX file: a clear error, never a crash."""
    foreign_resnet(work / "good.onnx")
    data = (work / "good.onnx").read_bytes()
    cases = {
        "truncated.onnx": data[: len(data) // 2],
        "truncated_end.onnx": data[:-7],
        "empty.onnx": b"",
        "text.onnx": b"name: 'not a model'\n",
    }
    for name, content in cases.items():
        (work / name).write_bytes(content)
        status, out = run(
            [
                CREMA,
                "import",
                "-onnx",
                work / name,
                "-out",
                work / "x.prototxt",
                "-weights",
                work / "x.caffemodel",
            ],
            expect_ok=False,
        )
        if (
            status != 1
            or str(work / name) not in out
            or not re.search(r"not a valid ONNX model|truncated|empty file|holds \d+ values", out)
        ):
            raise CheckFailed(f"{name}: status {status}, message:\n{out[-1500:]}")
    return f"{len(cases)} damaged files refused"


def unsupported_ops(work: Path):
    """Every unsupported operator listed at once, with its node's name."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="fine_relu"),
        helper.make_node("Erf", ["a"], ["b"], name="gelu_erf"),
        helper.make_node("Cos", ["b"], ["c"], name="odd_cos"),
        helper.make_node("Relu", ["c"], ["y"], name="fine_relu2"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(work / "u.onnx")
    )
    status, out = run(
        [
            CREMA,
            "import",
            "-onnx",
            work / "u.onnx",
            "-out",
            work / "u.prototxt",
            "-weights",
            work / "u.caffemodel",
        ],
        expect_ok=False,
    )
    if status != 1 or not all(
        s in out for s in ("'gelu_erf' (Erf)", "'odd_cos' (Cos)", "2 node(s)")
    ):
        raise CheckFailed(f"status {status}, message:\n{out}")
    if "fine_relu" in out:
        raise CheckFailed(f"a supported node was listed:\n{out}")
    return "both listed"


def export_refusals(work: Path):
    """crema export lists every layer without a mapping, by name and type, at once."""
    net = Path(__file__).resolve().parent / "nets/refused.prototxt"
    status, out = run([CREMA, "export", "-model", net, "-out", work / "r.onnx"], expect_ok=False)
    if status != 1 or not all(
        s in out for s in ("'lrn_w' (LRN)", "'bn_batch' (BatchNorm)", "2 layer(s)")
    ):
        raise CheckFailed(f"status {status}, message:\n{out}")
    return "both listed"


CHECKS = [
    ("round_trip", round_trip),
    ("foreign_resnet", foreign_import),
    ("fine_tune", fine_tune),
    ("damaged_files", damaged_files),
    ("unsupported_ops", unsupported_ops),
    ("export_refusals", export_refusals),
]


def run_all(work: Path):
    failures = []
    for name, check in CHECKS:
        start = time.time()
        (work / name).mkdir()
        try:
            result = check(work / name)
            if isinstance(result, float):
                result = f"max relative difference {result:.2e}"
            print(f"PASS import {name}: {result} ({time.time() - start:.1f} s)")
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            print(f"FAIL import {name}: {e}")
            failures.append(name)
    return failures


__all__ = ["run_all", "check_model"]
