# SPDX-License-Identifier: BSD-2-Clause
"""Metrics files, per-arm statistics and the "reproduced?" rule of tools/experiments.

Python 3 standard library only; no crema, no plotting: tests/experiments/test_expmetrics.py
checks everything here on synthetic data.

A crema metrics file (`<snapshot_prefix>_metrics.jsonl` or the solver's `metrics_file`) holds one
JSON object a line, written by solver/src/metrics_writer.cpp:

  {"iter":50,"lr":0.0987,"loss":0.44,"images_per_s":504.3}          a training display
  {"iter":469,"test_net":0,"accuracy":0.91,"loss":0.25}             a test pass of test net #0

The loss of a display is the solver's smoothed loss (the mean over `average_loss` iterations).
A run that was killed may leave a cut last line: it is skipped and counted, not fatal.
"""

import json
import math
import statistics


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------
class Metrics:
    """One run's metrics file: `train` a list of display dicts (iter, lr, loss, images_per_s),
    `tests` {test_net index: [dict(iter, <outputs>...)]}, `bad_lines` the lines skipped."""

    def __init__(self):
        self.train = []
        self.tests = {}
        self.bad_lines = 0

    def test_records(self, net):
        return self.tests.get(net, [])

    def final_test(self, net, key="accuracy"):
        """(iter, value) of the last test pass of net that has `key`, or None."""
        for rec in reversed(self.test_records(net)):
            if key in rec:
                return rec["iter"], rec[key]
        return None

    def final_train_loss(self):
        return self.train[-1]["loss"] if self.train else None

    def last_iter(self):
        its = [r["iter"] for r in self.train]
        for recs in self.tests.values():
            its += [r["iter"] for r in recs]
        return max(its) if its else None

    def median_images_per_s(self):
        """Median training throughput over the displays that measured one (the first display of
        a run has none; a display window holding a test pass is slower: the median ignores it)."""
        v = [r["images_per_s"] for r in self.train if r.get("images_per_s", 0) > 0]
        return statistics.median(v) if v else None

    def loss_curve(self):
        return [(r["iter"], r["loss"]) for r in self.train]

    def error_curve(self, net, key="accuracy"):
        return [(r["iter"], 1.0 - r[key]) for r in self.test_records(net) if key in r]


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_metrics_lines(lines):
    m = Metrics()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            m.bad_lines += 1
            continue
        if not isinstance(rec, dict) or not _number(rec.get("iter")):
            m.bad_lines += 1
            continue
        if "test_net" in rec:
            if not _number(rec["test_net"]):
                m.bad_lines += 1
                continue
            m.tests.setdefault(int(rec["test_net"]), []).append(rec)
        elif _number(rec.get("loss")):
            m.train.append(rec)
        else:
            m.bad_lines += 1
    return m


def parse_metrics(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_metrics_lines(f)


# ----------------------------------------------------------------------------------------------
# Statistics over seeds
# ----------------------------------------------------------------------------------------------
def finite(values):
    return [v for v in values if v is not None and isinstance(v, (int, float)) and math.isfinite(v)]


def summarize(values):
    """{n, mean, spread, lo, hi, std}; spread is half the range, (hi - lo) / 2, so mean +- spread
    spans the seeds exactly when they are two. None when no finite value."""
    v = finite(values)
    if not v:
        return None
    lo, hi = min(v), max(v)
    return {
        "n": len(v),
        "mean": sum(v) / len(v),
        "spread": (hi - lo) / 2,
        "lo": lo,
        "hi": hi,
        "std": statistics.stdev(v) if len(v) > 1 else 0.0,
    }


def fmt_stat(s, scale=1.0, digits=2, unit=""):
    if s is None:
        return "n/a"
    return f"{s['mean'] * scale:.{digits}f} ± {s['spread'] * scale:.{digits}f}{unit}"


# ----------------------------------------------------------------------------------------------
# The rule
# ----------------------------------------------------------------------------------------------
# A check says: the values of A are expected below those of B (errors, losses, wall times; a
# "larger is expected" claim is written with the sides swapped). With the values of each side
# over the seeds:
#   holds                 max(A) < min(B): the expected order, beyond the spread (ranges apart)
#   ordered within spread mean(A) < mean(B) but the ranges overlap
#   reversed within spread mean(A) >= mean(B), ranges overlap
#   contradicted          max(B) < min(A): the opposite order, beyond the spread
#   n/a                   a side has no finite value (a failed run)
# A claim is reproduced ("yes") when every one of its checks holds; "no" when any check is
# contradicted; otherwise "inconclusive" (also when a side is n/a).
HOLDS = "holds"
WITHIN = "ordered within spread"
REVERSED = "reversed within spread"
CONTRADICTED = "contradicted"
NA = "n/a"


def check_order(a_values, b_values, min_seeds=1):
    a, b = finite(a_values), finite(b_values)
    if len(a) < min_seeds or len(b) < min_seeds or not a or not b:
        return NA
    if max(a) < min(b):
        return HOLDS
    if max(b) < min(a):
        return CONTRADICTED
    return WITHIN if sum(a) / len(a) < sum(b) / len(b) else REVERSED


def claim_verdict(outcomes):
    if not outcomes:
        return "not run"
    if all(o == HOLDS for o in outcomes):
        return "yes"
    if any(o == CONTRADICTED for o in outcomes):
        return "no"
    return "inconclusive"


def paired_difference(x_by_seed, y_by_seed):
    """Per-seed x - y over the seeds both have finite values for ({seed: value} each)."""
    out = {}
    for s, x in x_by_seed.items():
        y = y_by_seed.get(s)
        if finite([x]) and finite([y]):
            out[s] = x - y
    return out


def choose_lr(grid):
    """grid: [{"lr", "val_error", "train_loss", "status"}]. The lr with the lowest validation
    error (a diverged or failed run counts as error 1); ties go to the lower final training loss,
    then to the smaller lr. Returns (lr, at_edge): at_edge when the grid has three or more lrs
    and the choice is the smallest or the largest (the optimum may lie outside the grid)."""
    if not grid:
        return None, False

    def key(g):
        err = g.get("val_error")
        err = err if g.get("status") == "ok" and finite([err]) else 1.0
        loss = g.get("train_loss")
        loss = loss if finite([loss]) else math.inf
        return (err, loss, g["lr"])

    best = min(grid, key=key)
    lrs = sorted(g["lr"] for g in grid)
    at_edge = len(lrs) > 2 and best["lr"] in (lrs[0], lrs[-1])
    return best["lr"], at_edge
