# SPDX-License-Identifier: BSD-2-Clause
"""Whole nets: the stages a depth implies, the stem, the units, and the classifier head."""

from dataset_layers import DATASETS, data_layers
from prototxt_writer import Enum, NetWriter
from resnet_blocks import BlockBuilder

# ImageNet stage depths (He et al. 2015, Table 1).
IMAGENET_STAGES = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
    200: ("bottleneck", [3, 24, 36, 3]),
}


def plan(a):
    """Returns [(stage width, units, stride)] after checking depth against the family."""
    if a.stem == "imagenet":
        if a.depth not in IMAGENET_STAGES:
            raise SystemExit(
                f"ImageNet ResNets have depth {sorted(IMAGENET_STAGES)}, not {a.depth}"
            )
        block, counts = IMAGENET_STAGES[a.depth]
        if a.block and a.block != block:
            raise SystemExit(f"ImageNet ResNet-{a.depth} uses {block} blocks")
        a.block = block
        widths = [64 * a.width, 128 * a.width, 256 * a.width, 512 * a.width]
        return [(w, n, 1 if i == 0 else 2) for i, (w, n) in enumerate(zip(widths, counts))]
    a.block = a.block or "basic"
    per_unit = 3 if a.block == "bottleneck" else 2
    extra = 4 if a.arch == "wrn" else 2  # WRN counts its three stage projections, He et al. do not
    if (a.depth - extra) % (3 * per_unit) or a.depth <= extra:
        raise SystemExit(
            f"{a.arch} with {a.block} blocks needs depth = {3 * per_unit}n + {extra}, not {a.depth}"
        )
    n = (a.depth - extra) // (3 * per_unit)
    return [(16 * a.width, n, 1), (32 * a.width, n, 2), (64 * a.width, n, 2)]


def default_name(a):
    if a.arch == "wrn":
        name = f"WRN-{a.depth}-{a.width}"
    else:
        name = ("Plain-" if a.plain else "ResNet-") + str(a.depth)
        if a.width != 1:
            name += f"-x{a.width}"
    tags = []
    if a.preact:
        tags.append("pre-activation")
    if a.bn_after_add:
        tags.append("BN after addition")
    if not a.plain and a.stem != "imagenet":
        tags.append(f"shortcut {a.shortcut}")
    if a.dropout:
        tags.append(f"dropout {a.dropout:g}")
    tags.append(
        {
            "fashion_mnist": "Fashion-MNIST",
            "mnist": "MNIST",
            "cifar10": "CIFAR-10",
            "cifar100": "CIFAR-100",
            "imagenet": "ImageNet",
        }[a.dataset]
    )
    return f"{name} ({', '.join(tags)})"


def build(a):
    channels, side, classes, _, _ = DATASETS[a.dataset]
    classes = a.classes or classes
    stages = plan(a)
    net = NetWriter(a.name or default_name(a))
    b = BlockBuilder(net, a)
    x = data_layers(net, a, channels, side)
    activated = False
    if a.stem == "imagenet":
        x = b.conv("conv1", x, 64, 7, 2, 3)
        b.bn("conv1", x)
        b.relu("conv1_relu", x)
        x = net.add(
            "pool1",
            "Pooling",
            [x],
            ["pool1"],
            ("pooling_param", [("pool", Enum("MAX")), ("kernel_size", 3), ("stride", 2)]),
        )
        cin, activated = 64, True
    else:
        x = b.conv("conv1", x, 16, 3)
        if not a.preact:
            b.bn("conv1", x)
            b.relu("conv1_relu", x)
        cin = 16
    for s, (width, count, stride) in enumerate(stages, 1):
        for u in range(1, count + 1):
            x, cin = b.unit(
                f"s{s}b{u}",
                x,
                cin,
                width,
                stride if u == 1 else 1,
                activated=activated and s == 1 and u == 1,
            )
    if a.preact:  # the last unit's addition is normalised and activated before the pooling
        x = b.bn("post", x, top="post")
        b.relu("post_relu", x)
    x = net.add(
        "pool",
        "Pooling",
        [x],
        ["pool"],
        ("pooling_param", [("pool", Enum("AVE")), ("global_pooling", True)]),
    )
    x = net.add(
        "fc",
        "InnerProduct",
        [x],
        ["fc"],
        (
            "inner_product_param",
            [
                ("num_output", classes),
                ("weight_filler", [("type", "msra")]),
                ("bias_filler", [("type", "constant"), ("value", 0.0)]),
            ],
        ),
    )
    if a.data == "deploy":
        net.add("prob", "Softmax", [x], ["prob"])
    else:
        net.add("loss", "SoftmaxWithLoss", [x, "label"], ["loss"])
        if a.data in ("mnist", "cifar"):
            net.add("accuracy", "Accuracy", [x, "label"], ["accuracy"], phase="TEST")
    return net
