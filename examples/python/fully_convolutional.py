#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Cast a classifier's InnerProduct layers into convolutions (Caffe's net surgery example).

The fully convolutional net scores every crop of a larger image in one pass: its output at grid
position (i, j) is the classifier's output on the crop at (stride * i, stride * j). The script
checks that on a random image, then saves the converted weights. Runs with `import crema as caffe`.

  python3 fully_convolutional.py [--weights lenet.caffemodel] --out lenet_full_conv.caffemodel
"""

import argparse
from pathlib import Path

import crema as caffe
import numpy as np

HERE = Path(__file__).resolve().parent


def convert(net, full, pairs):
    for fc, conv in pairs:
        # Same numbers, another shape: (out, in) -> (out, channels, kh, kw).
        full.params[conv][0].data.flat = net.params[fc][0].data.flat
        full.params[conv][1].data[...] = net.params[fc][1].data
        print(f"{fc} {net.params[fc][0].data.shape} -> {conv} {full.params[conv][0].data.shape}")


def check(net, full, stride, seed=0):
    """Largest difference between the grid's scores and the classifier's on each crop."""
    _, _, h, w = net.blobs["data"].data.shape
    image = np.random.default_rng(seed).random(full.blobs["data"].data.shape, dtype=np.float32)
    grid = full.forward(data=image)["prob"].copy()  # (1, classes, rows, cols)
    worst = 0.0
    for i in range(grid.shape[2]):
        for j in range(grid.shape[3]):
            crop = image[:, :, stride * i : stride * i + h, stride * j : stride * j + w]
            scores = net.forward(data=crop)["prob"][0]
            worst = max(worst, float(np.abs(scores - grid[0, :, i, j]).max()))
    return grid.shape, worst


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(HERE / "models" / "lenet.prototxt"))
    p.add_argument("--weights", help="the classifier's weights (default: random init)")
    p.add_argument("--full-conv-model", default=str(HERE / "models" / "lenet_full_conv.prototxt"))
    p.add_argument("--pairs", default="ip1:ip1-conv,ip2:ip2-conv", help="FC:CONV,...")
    p.add_argument("--stride", type=int, default=4, help="the net's total stride")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    caffe.set_mode_cpu()
    net = caffe.Net(args.model, *([args.weights] if args.weights else []), caffe.TEST)
    full = caffe.Net(args.full_conv_model, caffe.TEST)
    for name, blobs in net.params.items():  # the convolutions are shared as they are
        if name in full.params:
            for mine, theirs in zip(full.params[name], blobs):
                mine.data[...] = theirs.data
    convert(net, full, [pair.split(":") for pair in args.pairs.split(",")])
    shape, worst = check(net, full, args.stride)
    print(f"score grid {shape[2]}x{shape[3]}; largest difference from the classifier: {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit("the converted net does not reproduce the classifier")
    full.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
