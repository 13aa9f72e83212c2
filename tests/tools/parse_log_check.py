# SPDX-License-Identifier: BSD-2-Clause
"""Reads a crema training log the way Caffe's tools/extra/parse_log.py, extract_seconds.py and
parse_log.sh do (their rules restated here, not their code) and checks that what they would
extract is what the run's metrics file says (parse_log_test.sh runs it on a real run).

  python3 parse_log_check.py LOG METRICS.jsonl
"""

import datetime
import json
import math
import re
import sys

# parse_log.py's patterns.
ITERATION = re.compile(r"Iteration (\d+)")
TRAIN_OUTPUT = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
TEST_OUTPUT = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
LEARNING_RATE = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")
# Caffe 1.0's display line, which plot scripts read the training loss from.
DISPLAY_LOSS = re.compile(r"Iteration (\d+) \(.* iter/s, .*s/\d+ iters\), loss = ([\.\deE+-]+)")
# glog's prefix: level, MMDD, time, thread, the source file and line.
GLOG_PREFIX = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w.+-]+\.\w+:(\d+)\] ")


def line_time(line, year):
    """extract_seconds.py's reading of a glog line's date and time."""
    words = line.split()
    month, day = int(words[0][1:3]), int(words[0][3:])
    clock, micro = words[1].rsplit(".", 1)
    h, m, s = (int(x) for x in clock.split(":"))
    return datetime.datetime(year, month, day, h, m, s, int(micro))


def parse_log(lines, year):
    """parse_log.py's tables: a row per iteration with outputs, Seconds and LearningRate; a row
    is complete when it has as many columns as the first one."""
    start = next((line_time(x, year) for x in lines if "Solving" in x), None)
    if start is None:
        raise SystemExit("parse_log: no 'Solving' line: extract_seconds.py finds no start time")
    after = lines[next(i for i, x in enumerate(lines) if "Solving" in x) + 1 :]
    tables = {"train": [], "test": []}
    rows = {"train": None, "test": None}
    iteration, lr = -1, float("nan")
    for line in after:
        m = ITERATION.search(line)
        if m:
            iteration = int(m.group(1))
        if iteration == -1:
            continue
        seconds = (line_time(line, year) - start).total_seconds()
        m = LEARNING_RATE.search(line)
        if m:
            lr = float(m.group(1))
        for kind, pattern in (("train", TRAIN_OUTPUT), ("test", TEST_OUTPUT)):
            table, row = tables[kind], rows[kind]
            m = pattern.search(line)
            if m:
                if row is None or row["NumIters"] != iteration:
                    if row is not None:
                        table.append(row)
                    row = {"NumIters": iteration, "Seconds": seconds, "LearningRate": lr}
                row[m.group(2)] = float(m.group(3))
            if row is not None and table and len(row) == len(table[0]):
                table.append(row)
                row = None
            rows[kind] = row
    for kind in tables:  # parse_log.py then drops a last partial row; a full one is appended
        if rows[kind] is not None and (not tables[kind] or len(rows[kind]) == len(tables[kind][0])):
            tables[kind].append(rows[kind])
        if len(tables[kind]) > 1:  # fix_initial_nan_learning_rate
            tables[kind][0]["LearningRate"] = tables[kind][1]["LearningRate"]
    return tables


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)


def main(argv):
    log_path, metrics_path = argv
    with open(log_path) as f:
        lines = [x.rstrip("\n") for x in f]
    with open(metrics_path) as f:
        records = [json.loads(x) for x in f]
    displays = [r for r in records if "test_net" not in r]
    tests = [r for r in records if r.get("test_net") == 0]
    problems = []

    for x in lines:
        m = GLOG_PREFIX.match(x)
        if not m:
            problems.append(f"not a glog line: {x!r}")
        elif int(m.group(1)) == 0:
            problems.append(f"line 0 named as the source: {x!r}")

    year = datetime.date.today().year
    tables = parse_log(lines, year)
    train, test = tables["train"], tables["test"]
    if [r["NumIters"] for r in train] != [r["iter"] for r in displays]:
        problems.append(
            f"train rows at {[r['NumIters'] for r in train]}, "
            f"displays at {[r['iter'] for r in displays]}"
        )
    else:
        for row, rec in zip(train, displays):
            if not close(row.get("loss", math.nan), rec["loss"]):
                problems.append(f"train loss at {rec['iter']}: {row.get('loss')} vs {rec['loss']}")
    if [r["NumIters"] for r in test] != [r["iter"] for r in tests]:
        problems.append(
            f"test rows at {[r['NumIters'] for r in test]}, tests at {[r['iter'] for r in tests]}"
        )
    else:
        for row, rec in zip(test, tests):
            for name, v in rec.items():
                if name not in ("iter", "test_net") and not close(row.get(name, math.nan), v):
                    problems.append(f"test {name} at {rec['iter']}: {row.get(name)} vs {v}")
    seconds = [r["Seconds"] for r in train + test]
    if any(s < 0 for s in seconds):
        problems.append(f"negative Seconds: {seconds}")

    rates = [float(m.group(1)) for x in lines if (m := LEARNING_RATE.search(x))]
    if len(rates) != len(displays) or not all(map(close, rates, [r["lr"] for r in displays])):
        problems.append(f"lr lines {rates}, metrics {[r['lr'] for r in displays]}")
    shown = [(int(m.group(1)), float(m.group(2))) for x in lines if (m := DISPLAY_LOSS.search(x))]
    if [i for i, _ in shown] != [r["iter"] for r in displays] or not all(
        close(v, r["loss"]) for (_, v), r in zip(shown, displays)
    ):
        problems.append(f"display loss lines {shown}")

    # parse_log.sh: awk's 9th word of the ', lr = ' lines, 11th of 'Test net output #0'.
    sh_rates = [float(x.split()[8]) for x in lines if ", lr = " in x]
    if not all(map(close, sh_rates, rates)) or len(sh_rates) != len(rates):
        problems.append(f"parse_log.sh's lr column: {sh_rates}")
    first_output = [x.split()[10] for x in lines if "Test net output #0" in x]
    name0 = next((m.group(2) for x in lines if (m := TEST_OUTPUT.search(x))), None)
    if [float(v) for v in first_output] != [row.get(name0) for row in test]:
        problems.append(f"parse_log.sh's 'Test net output #0' column: {first_output}")
    if not any("] Solving " in x for x in lines):
        problems.append("parse_log.sh greps '] Solving ' for the start time: none")

    for p in problems:
        print("parse_log_check:", p)
    print(
        f"parse_log_check: {len(train)} train rows, {len(test)} test rows, {len(rates)} rates"
        + (" match the metrics file" if not problems else "")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
