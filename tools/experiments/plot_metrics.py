#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Training curves of one or more crema runs on one figure, from their metrics files: training
loss, test loss, test accuracy and learning rate against iterations, one curve per run in each
panel, the legend naming the runs. `crema plot -log DIR...` runs this file; it works alone too:

  python3 plot_metrics.py --out curves.png --run LABEL METRICS.jsonl [--run LABEL2 M2.jsonl ...]

Test curves come from test net #0: its output named "loss" (else the first with "loss" in its
name) and "accuracy" (else the first with "acc" in its name). Losses and the rate are drawn on a
log scale where they span more than a factor of ten. Needs matplotlib (python3-matplotlib).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from expmetrics import parse_metrics  # noqa: E402
from plots import COLORS  # noqa: E402

PANELS = [
    ("training loss", "loss"),
    ("test loss", "loss"),
    ("test accuracy", "accuracy"),
    ("learning rate", "lr"),
]


def pick_output(records, exact, part):
    """The test output drawn: `exact` if a record has it, else the first name holding `part`."""
    names = [k for r in records for k in r if k not in ("iter", "test_net")]
    if exact in names:
        return exact
    return next((n for n in names if part in n), None)


def curves(metrics):
    """[(x, y)] per panel of PANELS for one run's Metrics."""
    train = metrics.train
    tests = metrics.test_records(0)
    loss = pick_output(tests, "loss", "loss")
    acc = pick_output(tests, "accuracy", "acc")

    def series(records, key):
        pts = [(r["iter"], r[key]) for r in records if key and key in r]
        return [p[0] for p in pts], [p[1] for p in pts]

    return [series(train, "loss"), series(tests, loss), series(tests, acc), series(train, "lr")]


def build_figure(runs, title=""):
    """runs: [(label, Metrics)]. A matplotlib Figure with the four panels (2 x 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    per_run = [curves(m) for _, m in runs]
    for p, (ax, (name, ylabel)) in enumerate(zip(axes.flat, PANELS)):
        drawn = False
        for i, (label, _) in enumerate(runs):
            x, y = per_run[i][p]
            if not x:
                continue
            style = dict(color=COLORS[i % len(COLORS)], linewidth=1.6, label=label)
            if len(x) < 30:  # few points (tests): mark them
                style.update(marker="o", markersize=3.5)
            ax.plot(x, y, **style)
            drawn = True
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if not drawn:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            continue
        if ylabel != "accuracy":  # a rate schedule, or a first loss far above the rest
            values = [v for run in per_run for v in run[p][1]]
            if min(values) > 0 and max(values) > 10 * min(values):
                ax.set_yscale("log")
                if max(values) < 100 * min(values):  # two decades or less: label 2 and 5 too
                    plain = matplotlib.ticker.FormatStrFormatter("%g")
                    ax.yaxis.set_major_formatter(plain)
                    ax.yaxis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2, 5)))
                    ax.yaxis.set_minor_formatter(plain)
        ax.legend(fontsize=8)
    fig.suptitle(title or ", ".join(label for label, _ in runs), fontsize=11)
    fig.tight_layout()
    return fig


def main(argv):
    ap = argparse.ArgumentParser(description="draw crema runs' training curves into a PNG")
    ap.add_argument("--out", required=True, help="the PNG to write")
    ap.add_argument("--title", default="", help="the figure's title (default: the run labels)")
    ap.add_argument(
        "--run",
        nargs=2,
        action="append",
        required=True,
        metavar=("LABEL", "METRICS"),
        help="a run: its legend label and its metrics file (repeat for more runs)",
    )
    a = ap.parse_args(argv)
    runs = []
    for label, path in a.run:
        m = parse_metrics(path)
        if not m.train and not m.tests:
            print(f"plot: {path}: no training or test records", file=sys.stderr)
            return 1
        if m.bad_lines:
            print(f"plot: {path}: {m.bad_lines} unreadable line(s) skipped", file=sys.stderr)
        runs.append((label, m))
    fig = build_figure(runs, a.title)
    fig.savefig(a.out, dpi=90)
    print(f"plot: wrote {a.out} ({len(runs)} run(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
