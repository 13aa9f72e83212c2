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

# The command line only. The work lives beside it, one job a module:
#   net_catalogue.py    the checked-in files under net_defs/ and their flags (--all, --list)
#   dataset_layers.py   datasets and their data sections
#   resnet_nets.py      whole nets: stages, stem, units, head
#   resnet_blocks.py    one residual unit: convolutions, BN placement, shortcuts
#   solver_writer.py    the solver beside a net
#   prototxt_writer.py  prototxt text
import argparse
import os
import shlex
import sys

from dataset_layers import ALIASES, DATASETS, DEFAULT_SOURCES
from net_catalogue import TABLE
from resnet_nets import IMAGENET_STAGES, build
from solver_writer import solver_text

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def parser():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[2:]),
    )
    p.add_argument(
        "--all", action="store_true", help="regenerate every file in the table under --out-dir"
    )
    p.add_argument(
        "--out-dir", default=os.path.join(REPO, "net_defs"), help="for --all (default: net_defs/)"
    )
    p.add_argument("--list", action="store_true", help="print the table of --all")
    g = p.add_argument_group("architecture")
    g.add_argument(
        "--arch",
        choices=["resnet", "wrn"],
        default="resnet",
        help="wrn: Wide ResNet (pre-activation, depth 6n+4, projection shortcuts)",
    )
    g.add_argument(
        "--depth",
        type=int,
        default=20,
        help="CIFAR-style: 6n+2 (basic), 9n+2 (bottleneck), WRN 6n+4; "
        "ImageNet: 18 34 50 101 152 200",
    )
    g.add_argument(
        "--block", choices=["basic", "bottleneck"], help="default: basic (ImageNet: by depth)"
    )
    g.add_argument(
        "--shortcut",
        choices=["A", "B", "C"],
        default="B",
        help="where shapes change: A zero-pad identity, B projection, C projection everywhere",
    )
    g.add_argument("--preact", action="store_true", help="pre-activation units (He et al. 2016)")
    g.add_argument("--plain", action="store_true", help="no shortcuts: the plain twin")
    g.add_argument(
        "--bn-after-add", action="store_true", help="BN after the addition (Gross & Wilber 2016)"
    )
    g.add_argument("--width", type=int, default=1, help="widening factor k")
    g.add_argument(
        "--dropout", type=float, default=0.0, help="dropout ratio between a unit's convolutions"
    )
    g.add_argument(
        "--stride-1x1",
        action="store_true",
        help="bottleneck: stride in the first 1x1 (original Caffe models) instead of the 3x3",
    )
    g.add_argument(
        "--bn-maf",
        type=float,
        help="BatchNorm moving_average_fraction (Caffe's default .999 averages the "
        "statistics over ~1000 iterations: too long for short schedules)",
    )
    g.add_argument("--stem", choices=["cifar", "imagenet"], help="default: by dataset")
    g.add_argument("--classes", type=int, help="default: by dataset")
    g.add_argument("--name", help="the net's name: field")
    d = p.add_argument_group("data")
    d.add_argument(
        "--dataset",
        choices=sorted(DATASETS) + sorted(ALIASES),
        default="cifar10",
        help="cifar = cifar10, fashion-mnist = fashion_mnist",
    )
    d.add_argument(
        "--data",
        choices=["mnist", "cifar", "input", "deploy", "dummy"],
        help="data section: MNISTData / CIFARData (TRAIN+TEST), Input data+label, "
        "Input data only with Softmax (deploy), DummyData; default: by dataset",
    )
    d.add_argument(
        "--batch", type=int, help="TRAIN batch (Input/DummyData: the batch); default 128, deploy 1"
    )
    d.add_argument("--test-batch", type=int, default=100)
    d.add_argument("--source", help="dataset directory (default: by dataset)")
    d.add_argument("--max-images", type=int, default=0)
    d.add_argument(
        "--no-mirror", dest="mirror", action="store_false", help="no random horizontal flips"
    )
    d.add_argument(
        "--pad",
        type=int,
        help="TRAIN random crop after this zero padding (default 0 MNIST, 4 CIFAR)",
    )
    s = p.add_argument_group("solver")
    s.add_argument(
        "--solver", help="also write a solver for the net (path relative to --out's folder)"
    )
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
    if a.dropout and (
        a.block == "bottleneck"
        or (a.stem == "imagenet" and IMAGENET_STAGES.get(a.depth, ("",))[0] == "bottleneck")
    ):
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
    header = [
        "Generated by tools/netgen/netgen.py (do not edit; regenerate with --all):",
        "  " + cmd,
    ]
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
            for fp, text in generate(
                argv_one, os.path.join(a.out_dir, path), rel_cmd=flags + " --out net_defs/" + path
            ).items():
                write(fp, text)
                n += 1
        print(f"netgen: wrote {n} files under {a.out_dir}", file=sys.stderr)
        return 0
    for fp, text in generate(argv).items():
        write(fp, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
