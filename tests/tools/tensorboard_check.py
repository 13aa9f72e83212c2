# SPDX-License-Identifier: BSD-2-Clause
"""Reads a run's TensorBoard event files with TensorBoard's own reader and compares every scalar
with the metrics file crema wrote beside them (tensorboard_test.sh runs it in the venv that
scripts/tensorboard_venv.sh makes).

  python tensorboard_check.py LOGDIR METRICS.jsonl --files N

The metrics file is the reference: a display record {"iter","lr","loss","images_per_s"} gives
train/loss, train/lr and train/images_per_s (left out where 0: not measured); a test record
{"iter","test_net":k,<output>:v} gives test/<output> (test<k>/<output> for k > 0).
"""

import argparse
import json
import math
import os
import re
import sys

from tensorboard.backend.event_processing import event_accumulator


def expected_scalars(metrics_path):
    want = {}
    with open(metrics_path) as f:
        for line in f:
            rec = json.loads(line)
            step = rec.pop("iter")
            if "test_net" in rec:
                k = rec.pop("test_net")
                group = "test" if k == 0 else f"test{k}"
                items = [(f"{group}/{name}", v) for name, v in rec.items()]
            else:
                items = [("train/loss", rec["loss"]), ("train/lr", rec["lr"])]
                if rec["images_per_s"] > 0:
                    items.append(("train/images_per_s", rec["images_per_s"]))
            for tag, v in items:
                want.setdefault(tag, []).append((step, v))
    return want


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("logdir")
    ap.add_argument("metrics")
    ap.add_argument("--files", type=int, required=True, help="event files expected in LOGDIR")
    a = ap.parse_args(argv)
    problems = []
    files = sorted(f for f in os.listdir(a.logdir) if "tfevents" in f)
    if len(files) != a.files:
        problems.append(f"{len(files)} event files, expected {a.files}: {files}")
    for f in files:
        if not re.fullmatch(r"events\.out\.tfevents\.\d{10}\.[^/]+", f):
            problems.append(f"event file name {f!r} is not events.out.tfevents.<time>.<host>")

    acc = event_accumulator.EventAccumulator(a.logdir, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    if acc.file_version != 2.0:
        problems.append(f"file_version {acc.file_version}, expected brain.Event:2")
    got = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    want = expected_scalars(a.metrics)
    if sorted(got) != sorted(want):
        problems.append(f"tags {sorted(got)}, the metrics file has {sorted(want)}")
    for tag in sorted(set(got) & set(want)):
        steps_got = [s for s, _ in got[tag]]
        steps_want = [s for s, _ in want[tag]]
        if steps_got != steps_want:
            problems.append(f"{tag}: steps {steps_got}, the metrics file has {steps_want}")
            continue
        for (step, g), (_, w) in zip(got[tag], want[tag]):
            # The metrics file keeps 6 significant digits, the event a float32.
            if not math.isclose(g, w, rel_tol=1e-5, abs_tol=1e-9):
                problems.append(f"{tag} at {step}: {g} in TensorBoard, {w} in the metrics file")
    wall = [e.wall_time for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)]
    if wall and not all(1.5e9 < t < 4e9 for t in wall):
        problems.append(f"wall times not seconds since 1970: {min(wall)}..{max(wall)}")
    for p in problems:
        print("tensorboard_check:", p)
    n = sum(len(v) for v in got.values())
    print(f"tensorboard_check: {len(files)} file(s), {len(got)} tags, {n} points", end="")
    print(" match the metrics file" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
