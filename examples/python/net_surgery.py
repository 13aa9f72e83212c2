#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Net surgery, pycaffe style: copy weights from one net into another for fine-tuning.

Layers with the same name and shapes are copied, renamed ones through --rename OLD:NEW, and the
rest (a new classifier) keep their initialisation. Runs with `import crema as caffe`.

  python3 net_surgery.py --source models/lenet.prototxt [--source-weights lenet.caffemodel] \
      --target models/lenet_finetune.prototxt --rename ip1:fc6 --out finetune_init.caffemodel
"""

import argparse
from pathlib import Path

import crema as caffe

HERE = Path(__file__).resolve().parent


def transplant(source, target, renames):
    """Copy source's parameters into target; returns {target layer: what happened}."""
    report = {}
    for name, blobs in target.params.items():
        origin = renames.get(name, name)
        if origin not in source.params:
            report[name] = "kept (no source layer)"
            continue
        theirs = source.params[origin]
        if [b.data.shape for b in theirs] != [b.data.shape for b in blobs]:
            shapes = [b.data.shape for b in theirs], [b.data.shape for b in blobs]
            report[name] = f"kept (shapes differ: {shapes[0]} vs {shapes[1]})"
            continue
        for mine, src in zip(blobs, theirs):
            mine.data[...] = src.data  # the views write straight into crema's memory
        report[name] = f"copied from {origin}"
    return report


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=str(HERE / "models" / "lenet.prototxt"))
    p.add_argument("--source-weights", help="the trained weights (default: random init)")
    p.add_argument("--target", default=str(HERE / "models" / "lenet_finetune.prototxt"))
    p.add_argument("--rename", action="append", default=["ip1:fc6"], metavar="OLD:NEW")
    p.add_argument("--out", required=True, help="the target's weights to write")
    args = p.parse_args()

    caffe.set_mode_cpu()
    if args.source_weights:
        source = caffe.Net(args.source, args.source_weights, caffe.TEST)
    else:
        source = caffe.Net(args.source, caffe.TEST)
    target = caffe.Net(args.target, caffe.TEST)
    renames = {new: old for old, new in (r.split(":", 1) for r in args.rename)}
    for layer, what in transplant(source, target, renames).items():
        print(f"{layer}: {what}")
    target.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
