# SPDX-License-Identifier: BSD-2-Clause
"""Checks the PNG `crema plot` wrote for runs given as LABEL METRICS pairs (plot_test.sh runs it
with a python that has matplotlib):

- the file is a PNG of the figure's size;
- the figure plot_metrics.py builds for these runs has, in each of its four panels, one curve per
  run labelled with the run's name in the legend, holding the run's points as the metrics file
  (read here with json) has them;
- in the PNG itself, each run's colour covers a curve's worth of pixels and the next colour,
  which no run uses, none.

  python3 plot_check.py PNG SOURCE_DIR LABEL METRICS [LABEL METRICS ...]
"""

import json
import os
import struct
import sys


def metrics_points(path):
    train, test = [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if "test_net" not in r:
                train.append(r)
            elif r["test_net"] == 0:
                test.append(r)
    return [
        [(r["iter"], r["loss"]) for r in train],
        [(r["iter"], r["loss"]) for r in test],
        [(r["iter"], r["accuracy"]) for r in test],
        [(r["iter"], r["lr"]) for r in train],
    ]


def main(argv):
    png, src, pairs = argv[0], argv[1], argv[2:]
    runs = list(zip(pairs[0::2], pairs[1::2]))
    sys.path.insert(0, os.path.join(src, "tools", "experiments"))
    import matplotlib.image

    from expmetrics import parse_metrics
    from plot_metrics import build_figure
    from plots import COLORS

    problems = []
    with open(png, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        problems.append(f"{png} is not a PNG: {head[:16]!r}")
    width, height = struct.unpack(">II", head[16:24])
    if (width, height) != (990, 675):  # 11 x 7.5 inches at 90 dpi
        problems.append(f"{width}x{height} pixels, expected 990x675")

    fig = build_figure([(label, parse_metrics(path)) for label, path in runs])
    labels = [label for label, _ in runs]
    for p, ax in enumerate(fig.axes):
        lines = ax.get_lines()
        legend = ax.get_legend()
        shown = [t.get_text() for t in legend.get_texts()] if legend else []
        if len(lines) != len(runs) or shown != labels:
            problems.append(
                f"panel {ax.get_title()!r}: {len(lines)} curves, legend {shown}, runs {labels}"
            )
            continue
        for line, (label, path) in zip(lines, runs):
            want = metrics_points(path)[p]
            got = list(zip(line.get_xdata(), line.get_ydata()))
            if [(int(x), float(y)) for x, y in got] != [(int(x), float(y)) for x, y in want]:
                problems.append(f"panel {ax.get_title()!r}, {label}: {got} != {want}")

    pixels = matplotlib.image.imread(png)[:, :, :3]

    def covered(hex_color):
        rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        near = (abs(pixels - rgb) < 0.08).all(axis=2)
        return int(near.sum())

    counts = [covered(COLORS[i]) for i in range(len(runs) + 1)]
    for i, (label, _) in enumerate(runs):
        if counts[i] < 400:
            problems.append(f"{label}'s colour {COLORS[i]} covers {counts[i]} pixels: no curve")
    if counts[-1] > 20:
        problems.append(f"colour {COLORS[len(runs)]}, of no run, covers {counts[-1]} pixels")

    for p in problems:
        print("plot_check:", p)
    print(
        f"plot_check: {width}x{height} PNG, 4 panels x {len(runs)} curves, "
        f"pixels per run colour {counts[:-1]}, unused colour {counts[-1]}"
        + (": as the metrics files say" if not problems else "")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
