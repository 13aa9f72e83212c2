#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""netgen: Caffe-format prototxt for the residual-network family (and their plain twins).

Writes NetParameter text in Caffe's `layer { }` syntax with Caffe's layer types only
(Convolution, BatchNorm, Scale, ReLU, Eltwise, Pooling, Concat, InnerProduct, Dropout, Softmax,
SoftmaxWithLoss, Accuracy, Input, DummyData) plus crema's data plugins MNISTData and CIFARData.

  python3 tools/netgen/netgen.py --dataset cifar10 --depth 20 --shortcut A --out resnet20.prototxt
  python3 tools/netgen/netgen.py --arch wrn --depth 28 --width 10 --dropout 0.3 --dataset cifar10
  python3 tools/netgen/netgen.py --dataset imagenet --depth 50 --data deploy
  python3 tools/netgen/netgen.py --all            # regenerate every file under net_defs/

Variants (docs/RESNET_FAMILY.md has the references):
  post-activation (He et al. 2015)   conv-BN-ReLU-conv-BN (+x) ReLU                (default)
  --preact (He et al. 2016)          BN-ReLU-conv-BN-ReLU-conv (+x)
  --bn-after-add (Gross & Wilber)    conv-BN-ReLU-conv (+x) BN-ReLU
  --plain                            the same layers without the shortcut additions
  --block bottleneck                 1x1 (d) - 3x3 (d) - 1x1 (4d)
  --arch wrn (Zagoruyko & Komodakis) pre-activation basic blocks, widths 16k/32k/64k, depth 6n+4
Shortcuts where the shape changes: A = identity with stride-2 subsampling and zero channels
(parameter-free), B = 1x1 convolution projection (+BN/Scale when post-activation), C = a
projection in every block.

Python 3 standard library only.
"""
import argparse
import os
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# ----------------------------------------------------------------------------------------------
# The checked-in files: one line each, path under net_defs/ and the netgen flags that make it.
# `--all` regenerates exactly these (tests/netgen/regenerate_test.sh diffs them). A net with
# `--solver NAME` also gets a solver file NAME beside it.
# ----------------------------------------------------------------------------------------------
FM = "--dataset fashion_mnist --batch 128 --test-batch 100 --bn-maf 0.99"
FM_SOLVER = "--epochs 6"
C10 = "--dataset cifar10 --batch 128 --test-batch 100"
TABLE = [
    # Fashion-MNIST (28x28x1): the experiments. resnet20 is the main job's net.
    ("fashion_mnist/resnet20.prototxt", f"{FM} --depth 20 --shortcut B --solver solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/plain20.prototxt", f"{FM} --depth 20 --plain --solver plain20_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet20_optA.prototxt", f"{FM} --depth 20 --shortcut A --solver resnet20_optA_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet20_preact.prototxt", f"{FM} --depth 20 --shortcut B --preact --solver resnet20_preact_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet20_bn_after_add.prototxt", f"{FM} --depth 20 --shortcut B --bn-after-add --solver resnet20_bn_after_add_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet56.prototxt", f"{FM} --depth 56 --shortcut B --solver resnet56_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/plain56.prototxt", f"{FM} --depth 56 --plain --solver plain56_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet56_preact.prototxt", f"{FM} --depth 56 --shortcut B --preact --solver resnet56_preact_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet56_bn_after_add.prototxt", f"{FM} --depth 56 --shortcut B --bn-after-add --solver resnet56_bn_after_add_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet110.prototxt", f"{FM} --depth 110 --shortcut B --solver resnet110_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/plain110.prototxt", f"{FM} --depth 110 --plain --solver plain110_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet110_preact.prototxt", f"{FM} --depth 110 --shortcut B --preact --solver resnet110_preact_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/wrn_16_4.prototxt", f"{FM} --arch wrn --depth 16 --width 4 --solver wrn_16_4_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/wrn_16_4_dropout.prototxt", f"{FM} --arch wrn --depth 16 --width 4 --dropout 0.3 --solver wrn_16_4_dropout_solver.prototxt {FM_SOLVER}"),
    # The experiments' claim 5 (wide vs deep on 2 cores): WRN-16-2 (0.69M parameters) against the
    # thin pre-act ResNet-56 above (0.86M), each also with dropout 0.3 between a unit's convolutions.
    ("fashion_mnist/wrn_16_2.prototxt", f"{FM} --arch wrn --depth 16 --width 2 --solver wrn_16_2_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/wrn_16_2_dropout.prototxt", f"{FM} --arch wrn --depth 16 --width 2 --dropout 0.3 --solver wrn_16_2_dropout_solver.prototxt {FM_SOLVER}"),
    ("fashion_mnist/resnet56_preact_dropout.prototxt", f"{FM} --depth 56 --shortcut B --preact --dropout 0.3 --solver resnet56_preact_dropout_solver.prototxt {FM_SOLVER}"),
    # Thin and deep, about WRN-16-4's 2.75M parameters: pre-activation basic blocks, n = 29.
    ("fashion_mnist/resnet176_preact.prototxt", f"{FM} --depth 176 --shortcut B --preact --solver resnet176_preact_solver.prototxt {FM_SOLVER}"),
    # CIFAR-10 (32x32x3), the published configurations: option A for the CIFAR ResNets.
    ("cifar/resnet20.prototxt", f"{C10} --depth 20 --shortcut A"),
    ("cifar/resnet32.prototxt", f"{C10} --depth 32 --shortcut A"),
    ("cifar/resnet44.prototxt", f"{C10} --depth 44 --shortcut A"),
    ("cifar/resnet56.prototxt", f"{C10} --depth 56 --shortcut A"),
    ("cifar/resnet110.prototxt", f"{C10} --depth 110 --shortcut A"),
    ("cifar/plain20.prototxt", f"{C10} --depth 20 --plain"),
    ("cifar/plain56.prototxt", f"{C10} --depth 56 --plain"),
    ("cifar/resnet20_optB.prototxt", f"{C10} --depth 20 --shortcut B"),
    ("cifar/resnet110_preact.prototxt", f"{C10} --depth 110 --shortcut B --preact"),
    ("cifar/resnet164_preact.prototxt", f"{C10} --depth 164 --block bottleneck --shortcut B --preact"),
    ("cifar/resnet20_bn_after_add.prototxt", f"{C10} --depth 20 --shortcut A --bn-after-add"),
    ("cifar/wrn_16_4.prototxt", f"{C10} --arch wrn --depth 16 --width 4"),
    ("cifar/wrn_28_10.prototxt", f"{C10} --arch wrn --depth 28 --width 10"),
    ("cifar/wrn_28_10_dropout.prototxt", f"{C10} --arch wrn --depth 28 --width 10 --dropout 0.3"),
    # ImageNet deploy (Input 1x3x224x224, Softmax "prob"); shortcut B, stride in the 3x3 (v1.5).
    ("imagenet/resnet18.prototxt", "--dataset imagenet --depth 18 --data deploy"),
    ("imagenet/resnet34.prototxt", "--dataset imagenet --depth 34 --data deploy"),
    ("imagenet/resnet50.prototxt", "--dataset imagenet --depth 50 --data deploy"),
    ("imagenet/resnet101.prototxt", "--dataset imagenet --depth 101 --data deploy"),
    ("imagenet/resnet152.prototxt", "--dataset imagenet --depth 152 --data deploy"),
    ("imagenet/resnet50_preact.prototxt", "--dataset imagenet --depth 50 --preact --data deploy"),
    # Benchmarks for `crema time`: Input data + label, SoftmaxWithLoss, trains on random input.
    ("bench/resnet20_cifar_b64.prototxt", "--dataset cifar10 --depth 20 --shortcut B --data input --batch 64"),
    ("bench/resnet50_b8.prototxt", "--dataset imagenet --depth 50 --data input --batch 8"),
    ("bench/resnet20_cifar_b128.prototxt", "--dataset cifar10 --depth 20 --shortcut B --data input --batch 128"),
    ("bench/resnet50_b32.prototxt", "--dataset imagenet --depth 50 --data input --batch 32"),
]

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
# ImageNet stage depths (He et al. 2015, Table 1).
IMAGENET_STAGES = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
                   50: ("bottleneck", [3, 4, 6, 3]), 101: ("bottleneck", [3, 4, 23, 3]),
                   152: ("bottleneck", [3, 8, 36, 3]), 200: ("bottleneck", [3, 24, 36, 3])}


# ----------------------------------------------------------------------------------------------
# Prototxt text
# ----------------------------------------------------------------------------------------------
class Enum(str):
    """An enum value: written unquoted."""


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Enum):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v)
    return str(v)


def fmt_fields(fields, indent):
    """fields: list of (key, value); value a scalar or a nested list of fields."""
    out = []
    pad = "  " * indent
    for key, value in fields:
        if isinstance(value, list):
            out.append(f"{pad}{key} {{")
            out.extend(fmt_fields(value, indent + 1))
            out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{key}: {fmt_value(value)}")
    return out


class NetWriter:
    def __init__(self, name):
        self.name = name
        self.layers = []  # lists of fields

    def add(self, name, type_, bottoms, tops, *body, phase=None):
        f = [("name", name), ("type", type_)]
        f += [("bottom", b) for b in bottoms]
        f += [("top", t) for t in tops]
        if phase:
            f.append(("include", [("phase", Enum(phase))]))
        f += list(body)
        self.layers.append(f)
        return tops[0] if tops else None

    def text(self, header):
        lines = ["# " + h for h in header]
        lines.append(f"name: {fmt_value(self.name)}")
        for layer in self.layers:
            lines.extend(fmt_fields([("layer", layer)], 0))
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------
class Builder:
    def __init__(self, net, args):
        self.n = net
        self.a = args

    # A convolution: no bias (BatchNorm + Scale follow, or it feeds an addition normalised
    # later), msra weights.
    def conv(self, name, bottom, num_output, kernel, stride=1, pad=None, top=None):
        if pad is None:
            pad = (kernel - 1) // 2
        p = [("num_output", num_output), ("bias_term", False)]
        if pad:
            p.append(("pad", pad))
        p.append(("kernel_size", kernel))
        if stride != 1:
            p.append(("stride", stride))
        p.append(("weight_filler", [("type", "msra")]))
        return self.n.add(name, "Convolution", [bottom], [top or name], ("convolution_param", p))

    # BatchNorm (statistics only; its three blobs are state, not parameters) then Scale with a
    # bias (the learned gamma, beta). In place on `blob` unless `top` names a new blob.
    def bn(self, prefix, blob, top=None, bn_name=None, scale_name=None):
        top = top or blob
        body = []
        if self.a.bn_maf is not None:
            body.append(("batch_norm_param", [("moving_average_fraction", self.a.bn_maf)]))
        self.n.add(bn_name or prefix + "_bn", "BatchNorm", [blob], [top], *body)
        self.n.add(scale_name or prefix + "_scale", "Scale", [top], [top],
                   ("scale_param", [("bias_term", True)]))
        return top

    def relu(self, name, blob):
        return self.n.add(name, "ReLU", [blob], [blob])

    def dropout(self, name, blob, ratio):
        return self.n.add(name, "Dropout", [blob], [blob], ("dropout_param", [("dropout_ratio", ratio)]))

    def add(self, name, a, b):
        return self.n.add(name, "Eltwise", [a, b], [name],
                          ("eltwise_param", [("operation", Enum("SUM"))]))

    # Option A: subsample by taking every stride-th pixel (a 1x1 average pooling, floor rounding:
    # with Caffe's default ceil rounding 32 would give 17, not 16) and append zero channels.
    # The zeros are x - x (an Eltwise SUM with coefficients 1, -1: exactly 0, no parameters, the
    # batch size follows x in every phase) repeated as often as needed, joined by a Concat on
    # the channel axis: fb.resnet.torch's shortcutType 'A' (Identity concatenated with
    # MulConstant(0)) in Caffe layers.
    def shortcut_a(self, prefix, x, cin, cout, stride):
        if cout % cin:
            raise SystemExit(f"shortcut A needs output channels ({cout}) to be a multiple of the input channels ({cin})")
        if stride != 1:
            x = self.n.add(prefix + "_down", "Pooling", [x], [prefix + "_down"],
                           ("pooling_param", [("pool", Enum("AVE")), ("kernel_size", 1), ("stride", stride),
                                              ("round_mode", Enum("FLOOR"))]))
        if cout == cin:
            return x
        zeros = self.n.add(prefix + "_zeros", "Eltwise", [x, x], [prefix + "_zeros"],
                           ("eltwise_param", [("operation", Enum("SUM")), ("coeff", 1.0), ("coeff", -1.0)]))
        return self.n.add(prefix + "_pad", "Concat", [x] + [zeros] * (cout // cin - 1), [prefix + "_pad"],
                          ("concat_param", [("axis", 1)]))

    # The shortcut of a block whose input x has cin channels; `normed`: add BN/Scale after a
    # projection (post-activation nets; pre-activation ones project the activated input bare).
    def shortcut(self, prefix, x, cin, cout, stride, normed):
        kind = self.a.shortcut
        if cin == cout and stride == 1 and kind != "C":
            return x
        if kind == "A":
            return self.shortcut_a(prefix, x, cin, cout, stride)
        p = self.conv(prefix + "_proj", x, cout, 1, stride)
        if normed:
            self.bn(prefix + "_proj", p)
        return p

    def needs_projection(self, cin, cout, stride):
        return self.a.shortcut == "C" or cin != cout or stride != 1

    # One residual unit. `activated`: x is already BN-ReLU'ed (pre-activation nets after the
    # ImageNet stem), so the unit adds no pre-activation of its own.
    def unit(self, prefix, x, cin, width, stride, activated=False):
        a = self.a
        bottleneck = a.block == "bottleneck"
        cout = width * 4 if bottleneck else width
        # The convolutions of the residual branch: (kernel, channels, stride).
        if bottleneck:
            s1, s3 = (stride, 1) if a.stride_1x1 else (1, stride)
            convs = [(1, width, s1), (3, width, s3), (1, cout, 1)]
        else:
            convs = [(3, width, stride), (3, width, 1)]
        last = len(convs)
        if a.preact:
            # BN-ReLU before each convolution. Where the shortcut is a projection (or A's
            # subsampling) it takes the activated input too (He et al. 2016's units that
            # increase dimensions); else the identity keeps the raw x. The unit's first BN
            # writes a new blob either way (the raw x is still needed, or, when shared, so that
            # the BN-ReLU belongs to this unit and not to the previous unit's addition).
            shared = a.plain or (stride != 1 or cin != cout or a.shortcut == "C")
            if activated:
                branch, short_in = x, x
            else:
                branch = self.bn(prefix + "_preact", x, top=prefix + "_preact")
                self.relu(prefix + "_preact_relu", branch)
                short_in = branch if shared else x
            y = branch
            for i, (k, c, s) in enumerate(convs, 1):
                if i > 1:
                    self.bn(f"{prefix}_conv{i - 1}", y)
                    self.relu(f"{prefix}_relu{i - 1}", y)
                    if a.dropout and i == last:
                        self.dropout(f"{prefix}_dropout", y, a.dropout)
                y = self.conv(f"{prefix}_conv{i}", y, c, k, s)
            if a.plain:
                return y, cout
            sc = self.shortcut(prefix, short_in, cin, cout, stride, normed=False)
            return self.add(prefix + "_sum", y, sc), cout
        # Post-activation (and BN after addition).
        y = x
        for i, (k, c, s) in enumerate(convs, 1):
            y = self.conv(f"{prefix}_conv{i}", y, c, k, s)
            if i < last:
                self.bn(f"{prefix}_conv{i}", y)
                self.relu(f"{prefix}_relu{i}", y)
                if a.dropout and i == last - 1:
                    self.dropout(f"{prefix}_dropout", y, a.dropout)
            elif not a.bn_after_add:
                self.bn(f"{prefix}_conv{i}", y)
        if a.plain:
            self.relu(prefix + "_relu", y)
            return y, cout
        sc = self.shortcut(prefix, x, cin, cout, stride, normed=True)
        y = self.add(prefix + "_sum", y, sc)
        if a.bn_after_add:
            self.bn(prefix + "_sum", y)
        self.relu(prefix + "_relu", y)
        return y, cout


# ----------------------------------------------------------------------------------------------
# Data sections
# ----------------------------------------------------------------------------------------------
def data_layers(net, a, channels, side):
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
            net.add("data", layer_type, [], ["data", "label"], ("transform_param", t), (block, p),
                    phase=phase)
        return "data"
    shape = [a.batch, channels, side, side]
    if kind == "deploy":
        net.add("data", "Input", [], ["data"],
                ("input_param", [("shape", [("dim", d) for d in shape])]))
    elif kind == "input":
        net.add("data", "Input", [], ["data", "label"],
                ("input_param", [("shape", [("dim", d) for d in shape]), ("shape", [("dim", a.batch)])]))
    elif kind == "dummy":
        net.add("data", "DummyData", [], ["data", "label"],
                ("dummy_data_param", [
                    ("data_filler", [("type", "gaussian"), ("std", 1.0)]),
                    ("data_filler", [("type", "constant"), ("value", 0.0)]),
                    ("shape", [("dim", d) for d in shape]), ("shape", [("dim", a.batch)])]))
    else:
        raise SystemExit(f"unknown --data {kind}")
    return "data"


# ----------------------------------------------------------------------------------------------
# Whole nets
# ----------------------------------------------------------------------------------------------
def plan(a):
    """Returns (stem, [(stage width, units, stride)]) after checking depth against the family."""
    if a.stem == "imagenet":
        if a.depth not in IMAGENET_STAGES:
            raise SystemExit(f"ImageNet ResNets have depth {sorted(IMAGENET_STAGES)}, not {a.depth}")
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
        raise SystemExit(f"{a.arch} with {a.block} blocks needs depth = {3 * per_unit}n + {extra}, not {a.depth}")
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
    tags.append({"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10",
                 "cifar100": "CIFAR-100", "imagenet": "ImageNet"}[a.dataset])
    return f"{name} ({', '.join(tags)})"


def build(a):
    channels, side, classes, _, _ = DATASETS[a.dataset]
    classes = a.classes or classes
    stages = plan(a)
    net = NetWriter(a.name or default_name(a))
    b = Builder(net, a)
    x = data_layers(net, a, channels, side)
    activated = False
    if a.stem == "imagenet":
        x = b.conv("conv1", x, 64, 7, 2, 3)
        b.bn("conv1", x)
        b.relu("conv1_relu", x)
        x = net.add("pool1", "Pooling", [x], ["pool1"],
                    ("pooling_param", [("pool", Enum("MAX")), ("kernel_size", 3), ("stride", 2)]))
        cin, activated = 64, True
    else:
        x = b.conv("conv1", x, 16, 3)
        if not a.preact:
            b.bn("conv1", x)
            b.relu("conv1_relu", x)
        cin = 16
    for s, (width, count, stride) in enumerate(stages, 1):
        for u in range(1, count + 1):
            x, cin = b.unit(f"s{s}b{u}", x, cin, width, stride if u == 1 else 1,
                            activated=activated and s == 1 and u == 1)
    if a.preact:  # the last unit's addition is normalised and activated before the pooling
        x = b.bn("post", x, top="post")
        b.relu("post_relu", x)
    x = net.add("pool", "Pooling", [x], ["pool"],
                ("pooling_param", [("pool", Enum("AVE")), ("global_pooling", True)]))
    x = net.add("fc", "InnerProduct", [x], ["fc"],
                ("inner_product_param", [("num_output", classes), ("weight_filler", [("type", "msra")]),
                                         ("bias_filler", [("type", "constant"), ("value", 0.0)])]))
    if a.data == "deploy":
        net.add("prob", "Softmax", [x], ["prob"])
    else:
        net.add("loss", "SoftmaxWithLoss", [x, "label"], ["loss"])
        if a.data in ("mnist", "cifar"):
            net.add("accuracy", "Accuracy", [x, "label"], ["accuracy"], phase="TEST")
    return net


def solver_text(a, net_file, header):
    iters_per_epoch = -(-a.train_images // a.batch)
    max_iter = a.max_iter or a.epochs * iters_per_epoch
    test_iter = -(-a.test_images // a.test_batch)
    stem = os.path.splitext(os.path.basename(net_file))[0]
    f = [
        ("net", net_file),
        ("test_iter", test_iter),
        ("test_interval", iters_per_epoch),
        ("test_initialization", False),
        ("base_lr", a.base_lr),
        ("lr_policy", "cosine"),
        ("warmup_iter", a.warmup_iter),
        ("warmup_start_factor", 0.1),
        ("momentum", 0.9),
        ("weight_decay", a.weight_decay),
        ("type", "SGD"),
        ("max_iter", max_iter),
        ("display", 50),
        ("snapshot_prefix", f"snapshots/{a.dataset}/{stem}"),
        ("random_seed", 1),
        ("solver_mode", Enum("CPU")),
    ]
    lines = ["# " + h for h in header]
    lines.append(f"# {a.epochs if not a.max_iter else max_iter / iters_per_epoch:g} epochs of "
                 f"{iters_per_epoch} iterations (batch {a.batch}); test: {test_iter} x {a.test_batch} images")
    lines += fmt_fields(f, 0)
    return "\n".join(lines) + "\n"


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--all", action="store_true", help="regenerate every file in the table under --out-dir")
    p.add_argument("--out-dir", default=os.path.join(REPO, "net_defs"), help="for --all (default: net_defs/)")
    p.add_argument("--list", action="store_true", help="print the table of --all")
    g = p.add_argument_group("architecture")
    g.add_argument("--arch", choices=["resnet", "wrn"], default="resnet",
                   help="wrn: Wide ResNet (pre-activation, depth 6n+4, projection shortcuts)")
    g.add_argument("--depth", type=int, default=20,
                   help="CIFAR-style: 6n+2 (basic), 9n+2 (bottleneck), WRN 6n+4; ImageNet: 18 34 50 101 152 200")
    g.add_argument("--block", choices=["basic", "bottleneck"], help="default: basic (ImageNet: by depth)")
    g.add_argument("--shortcut", choices=["A", "B", "C"], default="B",
                   help="where shapes change: A zero-pad identity, B projection, C projection everywhere")
    g.add_argument("--preact", action="store_true", help="pre-activation units (He et al. 2016)")
    g.add_argument("--plain", action="store_true", help="no shortcuts: the plain twin")
    g.add_argument("--bn-after-add", action="store_true", help="BN after the addition (Gross & Wilber 2016)")
    g.add_argument("--width", type=int, default=1, help="widening factor k")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout ratio between a unit's convolutions")
    g.add_argument("--stride-1x1", action="store_true",
                   help="bottleneck: stride in the first 1x1 (original Caffe models) instead of the 3x3")
    g.add_argument("--bn-maf", type=float,
                   help="BatchNorm moving_average_fraction (Caffe's default .999 averages the "
                        "statistics over ~1000 iterations: too long for short schedules)")
    g.add_argument("--stem", choices=["cifar", "imagenet"], help="default: by dataset")
    g.add_argument("--classes", type=int, help="default: by dataset")
    g.add_argument("--name", help="the net's name: field")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", choices=sorted(DATASETS) + sorted(ALIASES), default="cifar10",
                   help="cifar = cifar10, fashion-mnist = fashion_mnist")
    d.add_argument("--data", choices=["mnist", "cifar", "input", "deploy", "dummy"],
                   help="data section: MNISTData / CIFARData (TRAIN+TEST), Input data+label, "
                        "Input data only with Softmax (deploy), DummyData; default: by dataset")
    d.add_argument("--batch", type=int, help="TRAIN batch (Input/DummyData: the batch); default 128, deploy 1")
    d.add_argument("--test-batch", type=int, default=100)
    d.add_argument("--source", help="dataset directory (default: by dataset)")
    d.add_argument("--max-images", type=int, default=0)
    d.add_argument("--no-mirror", dest="mirror", action="store_false", help="no random horizontal flips")
    d.add_argument("--pad", type=int, help="TRAIN random crop after this zero padding (default 0 MNIST, 4 CIFAR)")
    s = p.add_argument_group("solver")
    s.add_argument("--solver", help="also write a solver for the net (path relative to --out's folder)")
    s.add_argument("--epochs", type=int, default=6)
    s.add_argument("--max-iter", type=int)
    s.add_argument("--base-lr", type=float, default=0.1)
    s.add_argument("--weight-decay", type=float, default=5e-4)
    s.add_argument("--warmup-iter", type=int, default=200)
    p.add_argument("--out", help="output file (default: stdout)")
    return p


def finish_args(a, p):
    a.dataset = ALIASES.get(a.dataset, a.dataset)
    channels, side, classes, data, stem = DATASETS[a.dataset]
    a.stem = a.stem or stem
    a.data = a.data or data
    if a.batch is None:
        a.batch = 1 if a.data == "deploy" else 128
    if a.arch == "wrn":
        a.preact = True
        if a.block == "bottleneck":
            p.error("--arch wrn uses basic blocks")
    if a.plain and a.bn_after_add:
        p.error("--bn-after-add moves a BN after the addition: a plain net has none")
    if a.preact and a.bn_after_add:
        p.error("--bn-after-add is a post-activation variant")
    if a.dropout and (a.block == "bottleneck" or (a.stem == "imagenet" and IMAGENET_STAGES.get(a.depth, ("",))[0] == "bottleneck")):
        p.error("--dropout goes between the two convolutions of basic blocks")
    if a.data in ("mnist", "cifar") and a.dataset == "imagenet":
        p.error("no ImageNet reader: use --data deploy, input or dummy")
    a.source = a.source or DEFAULT_SOURCES.get(a.dataset)
    if a.pad is None:
        a.pad = 0 if a.dataset in ("mnist", "fashion_mnist") else 4
    if channels == 1:
        a.scale, a.mean = 0.00390625, []
    else:  # CIFAR: per-channel means, about unit variance
        a.scale, a.mean = 0.0159, [125.3, 123.0, 113.9]
    a.train_images, a.test_images = (60000, 10000) if channels == 1 else (50000, 10000)


def generate(argv, out_path=None, rel_cmd=None):
    """Returns {path: text} for one command line."""
    p = parser()
    a = p.parse_args(argv)
    finish_args(a, p)
    out_path = out_path or a.out
    cmd = rel_cmd or " ".join(shlex.quote(x) for x in argv)
    header = ["Generated by tools/netgen/netgen.py (do not edit; regenerate with --all):",
              "  " + cmd]
    files = {}
    files[out_path] = build(a).text(header)
    if a.solver:
        if not out_path:
            p.error("--solver needs --out")
        net_dir = os.path.dirname(out_path)
        files[os.path.join(net_dir, a.solver)] = solver_text(a, os.path.basename(out_path), header)
    return files


def write(path, text):
    if path is None:
        sys.stdout.write(text)
        return
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main(argv):
    p = parser()
    a, _ = p.parse_known_args(argv)
    if a.list:
        for path, flags in TABLE:
            print(f"{path}: {flags}")
        return 0
    if a.all:
        n = 0
        for path, flags in TABLE:
            argv_one = shlex.split(flags)
            for fp, text in generate(argv_one, os.path.join(a.out_dir, path),
                                     rel_cmd=flags + " --out net_defs/" + path).items():
                write(fp, text)
                n += 1
        print(f"netgen: wrote {n} files under {a.out_dir}", file=sys.stderr)
        return 0
    for fp, text in generate(argv).items():
        write(fp, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
