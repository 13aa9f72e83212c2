# SPDX-License-Identifier: BSD-2-Clause
"""The datasets netgen knows and the data section each gets (reader plugins, Input, DummyData)."""

from prototxt_writer import Enum

DATASETS = {
    # name: (channels, side, classes, default data section, stem)
    "fashion_mnist": (1, 28, 10, "mnist", "cifar"),
    "mnist": (1, 28, 10, "mnist", "cifar"),
    "cifar10": (3, 32, 10, "cifar", "cifar"),
    "cifar100": (3, 32, 100, "cifar", "cifar"),
    "imagenet": (3, 224, 1000, "deploy", "imagenet"),
}
ALIASES = {"cifar": "cifar10", "fashion-mnist": "fashion_mnist", "fmnist": "fashion_mnist"}
DEFAULT_SOURCES = {
    "fashion_mnist": "/usr/share/datasets/fashion-mnist",
    "mnist": "/usr/share/datasets/mnist",
    "cifar10": "data/cifar-10-batches-bin",
    "cifar100": "data/cifar-100-binary",
}


def data_layers(net, a, channels, side):
    """Adds the data section that --data names; returns the data blob."""
    kind = a.data
    if kind in ("mnist", "cifar"):
        layer_type = "MNISTData" if kind == "mnist" else "CIFARData"
        block = "mnist_data_param" if kind == "mnist" else "cifar_data_param"
        for phase, split, batch in (("TRAIN", "train", a.batch), ("TEST", "test", a.test_batch)):
            p = [("source", a.source), ("split", split), ("batch_size", batch)]
            if a.dataset == "cifar100":
                p.append(("format", Enum("CIFAR100")))
            if a.max_images:
                p.append(("max_images", a.max_images))
            t = [("scale", a.scale)]
            for m in a.mean:
                t.append(("mean_value", m))
            if phase == "TRAIN":
                if a.pad:
                    p.append(("pad", a.pad))
                t.append(("mirror", a.mirror))
                if a.pad:
                    t.append(("crop_size", side))
            net.add(
                "data",
                layer_type,
                [],
                ["data", "label"],
                ("transform_param", t),
                (block, p),
                phase=phase,
            )
        return "data"
    shape = [a.batch, channels, side, side]
    if kind == "deploy":
        net.add(
            "data", "Input", [], ["data"], ("input_param", [("shape", [("dim", d) for d in shape])])
        )
    elif kind == "input":
        net.add(
            "data",
            "Input",
            [],
            ["data", "label"],
            (
                "input_param",
                [("shape", [("dim", d) for d in shape]), ("shape", [("dim", a.batch)])],
            ),
        )
    elif kind == "dummy":
        net.add(
            "data",
            "DummyData",
            [],
            ["data", "label"],
            (
                "dummy_data_param",
                [
                    ("data_filler", [("type", "gaussian"), ("std", 1.0)]),
                    ("data_filler", [("type", "constant"), ("value", 0.0)]),
                    ("shape", [("dim", d) for d in shape]),
                    ("shape", [("dim", a.batch)]),
                ],
            ),
        )
    else:
        raise SystemExit(f"unknown --data {kind}")
    return "data"
