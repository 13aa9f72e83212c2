#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Extract a blob's features for every image of a folder or an idx file, pycaffe style.

Images: binary PGM/PPM (P5/P6, 8-bit) or .npy arrays (H x W or C x H x W), the net's input size;
idx: an idx3-ubyte file (MNIST, Fashion-MNIST; .gz too). 8-bit pixels are scaled to [0, 1].
Writes an N x D .npy file (and the image names beside it). Runs with `import crema as caffe`.

  python3 extract_features.py --images DIR --blob ip1 --out features.npy
  python3 extract_features.py --idx t10k-images-idx3-ubyte.gz --limit 1000 --out features.npy
"""

import argparse
import gzip
from pathlib import Path

import crema as caffe
import numpy as np

HERE = Path(__file__).resolve().parent


def read_netpbm(path):
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' starts a comment
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic not in (b"P5", b"P6") or maxval > 255:
        raise ValueError(f"{path}: only 8-bit binary PGM (P5) and PPM (P6) are read")
    channels = 1 if magic == b"P5" else 3
    pixels = np.frombuffer(data, np.uint8, width * height * channels, pos + 1)
    return pixels.reshape(height, width, channels).transpose(2, 0, 1)


def read_image(path):
    image = np.load(path) if path.suffix == ".npy" else read_netpbm(path)
    return image[None] if image.ndim == 2 else image


def read_idx(path, limit):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, count, rows, cols = np.frombuffer(f.read(16), ">u4")
        if magic != 0x803:
            raise ValueError(f"{path}: not an idx3-ubyte file (magic {magic:#x})")
        count = min(int(count), limit) if limit else int(count)
        pixels = np.frombuffer(f.read(count * rows * cols), np.uint8)
    return [f"{path.name}[{i}]" for i in range(count)], pixels.reshape(count, 1, rows, cols)


def images_of(args):
    if args.idx:
        return read_idx(Path(args.idx), args.limit)
    paths = sorted(
        p for p in Path(args.images).iterdir() if p.suffix.lower() in (".pgm", ".ppm", ".npy")
    )
    if not paths:
        raise SystemExit(f"{args.images}: no .pgm, .ppm or .npy images")
    return [p.name for p in paths], [read_image(p) for p in paths]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(HERE / "models" / "lenet.prototxt"))
    p.add_argument("--weights", help="trained weights (default: random init)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="a folder of images")
    source.add_argument("--idx", help="an idx3-ubyte file")
    p.add_argument("--limit", type=int, default=0, help="at most this many idx images")
    p.add_argument("--blob", default="ip1")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    caffe.set_mode_cpu()
    net = caffe.Net(args.model, *([args.weights] if args.weights else []), caffe.TEST)
    if args.blob not in net.blobs:
        raise SystemExit(f"no blob {args.blob!r}; the net has: {', '.join(net.blobs)}")
    names, images = images_of(args)
    shape = net.blobs["data"].data.shape[1:]
    features = []
    for start in range(0, len(names), args.batch):
        batch = np.stack([np.asarray(im) for im in images[start : start + args.batch]])
        if batch.shape[1:] != shape:
            raise SystemExit(f"images of shape {batch.shape[1:]}, the net takes {shape}")
        if batch.dtype == np.uint8:
            batch = batch.astype(np.float32) / 255
        net.forward(data=batch)
        features.append(net.blobs[args.blob].data.reshape(len(batch), -1).copy())
    features = np.concatenate(features)
    np.save(args.out, features)
    Path(args.out).with_suffix(".txt").write_text("\n".join(names) + "\n")
    print(f"{features.shape[0]} images, {features.shape[1]} features of {args.blob} -> {args.out}")


if __name__ == "__main__":
    main()
