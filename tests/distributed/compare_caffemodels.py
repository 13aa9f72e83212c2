# SPDX-License-Identifier: BSD-2-Clause
"""Compares the weights of two .caffemodel files numerically.

Reads Caffe's NetParameter wire format directly (layer = 100; in a layer name = 1, type = 2,
blobs = 7; in a blob data = 5, packed or not), independent of crema's own reader.

  compare_caffemodels.py A B [--rtol R] [--atol A] [--skip-type BatchNorm] [--expect-differ]

Exits 0 when every blob of every layer with blobs agrees within |a - b| <= atol + rtol * |b|
(or, with --expect-differ, when some value does not), 1 otherwise, and prints the largest
difference with its layer and blob.
"""

import argparse
import struct
import sys


def varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def fields(buf):
    """Yields (field number, wire type, value) of one message; value is bytes or an int."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire} of field {number} is not expected in a caffemodel")
        yield number, wire, value


def blob_values(blob):
    values = []
    for number, wire, value in fields(blob):
        if number == 5 and wire == 2:  # packed floats
            values.extend(struct.unpack(f"<{len(value) // 4}f", value))
        elif number == 5 and wire == 5:
            values.append(struct.unpack("<f", value)[0])
    return values


def read_layers(path):
    """{layer name: (type, [blob values, ...])} of the layers that hold blobs."""
    with open(path, "rb") as f:
        data = f.read()
    layers = {}
    for number, wire, value in fields(data):
        if number != 100 or wire != 2:
            continue
        name, kind, blobs = "", "", []
        for n, w, v in fields(value):
            if n == 1 and w == 2:
                name = v.decode()
            elif n == 2 and w == 2:
                kind = v.decode()
            elif n == 7 and w == 2:
                blobs.append(blob_values(v))
        if blobs:
            layers[name] = (kind, blobs)
    return layers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument(
        "--skip-type",
        action="append",
        default=[],
        help="layer type whose blobs are not compared (e.g. BatchNorm)",
    )
    parser.add_argument(
        "--expect-differ",
        action="store_true",
        help="succeed only when the weights differ beyond the tolerance",
    )
    args = parser.parse_args()
    a, b = read_layers(args.a), read_layers(args.b)
    if sorted(a) != sorted(b):
        print(f"layers differ: {sorted(a)} vs {sorted(b)}")
        return 1
    worst = (0.0, "", 0, 0.0, 0.0)
    compared = 0
    for name, (kind, blobs_a) in a.items():
        if kind in args.skip_type:
            continue
        blobs_b = b[name][1]
        if [len(x) for x in blobs_a] != [len(x) for x in blobs_b]:
            print(f"layer {name}: blob sizes differ")
            return 1
        for k, (xa, xb) in enumerate(zip(blobs_a, blobs_b)):
            for va, vb in zip(xa, xb):
                excess = abs(va - vb) - (args.atol + args.rtol * abs(vb))
                compared += 1
                if excess > worst[0] or not worst[1]:
                    worst = (excess, name, k, va, vb)
    if compared == 0:
        print("no values compared")
        return 1
    excess, name, k, va, vb = worst
    agree = excess <= 0
    print(
        f"{compared} values; largest difference at {name}[{k}]: {va!r} vs {vb!r} "
        f"({'within' if agree else 'beyond'} atol {args.atol} + rtol {args.rtol})"
    )
    return 0 if agree != args.expect_differ else 1


if __name__ == "__main__":
    sys.exit(main())
