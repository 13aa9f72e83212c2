#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""run_experiments: the classic ResNet findings on Fashion-MNIST, through `crema train`.

  python3 tools/experiments/run_experiments.py --quick               # smoke test, all claims
  python3 tools/experiments/run_experiments.py --quick --claims 3    # the cheapest claim
  python3 tools/experiments/run_experiments.py --dry-run             # the full plan, no training
  python3 tools/experiments/run_experiments.py --claims 1,3          # full budget, two claims

Claims (docs/EXPERIMENTS.md has the references and the rules):
  1  shortcuts make depth help: plain-20/56 vs ResNet-20/56 (He et al. 2015)
  2  SGD+momentum vs RMSProp, AdaGrad, AdaDelta, Adam on ResNet-20, each lr from a grid
     searched on a held-out validation slice (Wilson et al. 2017)
  3  BN before the addition (standard) vs BN after it (Gross & Wilber 2016)
  4  post- vs pre-activation at two depths; the gap grows with depth (He et al. 2016)
  5  wide vs deep: WRN-16-2 vs a thin pre-activation ResNet-56 with more parameters, with and
     without dropout; error and wall time (Zagoruyko & Komodakis 2016)

Each arm is trained with the same budget (iterations, batch) for every seed (random_seed 1, 2,
...). Nets come from tools/netgen/netgen.py with the data layers rewritten for the slices and
test nets the runner needs; solvers are written here. Everything crema needs goes into the run
directory (default build/experiments/<mode>/); the output directory (default
experiments-out/<mode>/ in the current directory) receives report.md, results.json,
claim<N>.png and metrics/ (the raw metrics files). The report covers the claims of this
invocation; claims that earlier invocations wrote into the same output directory follow under
their own heading, and only while their runs are the ones this invocation would train. A run
whose solver and net are unchanged since a finished run in the same run directory is not
trained again (--rerun forces it): an interrupted full run resumes. Each finished run is also
recorded in the output directory's finished/ ledger (its result and metrics), which can be
committed with the report, so a long full run resumes on another machine or in a fresh clone.

Python 3 standard library only; plots need matplotlib (this interpreter or Debian's
/usr/bin/python3 with python3-matplotlib) or gnuplot, else they are skipped with a note.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import expmetrics as em  # noqa: E402
from expplan import DATA, DEFAULT_RATE_GMACS, FM_TRAIN_SIZE, MODES, build_runs, claims_for  # noqa: E402
from expreport import make_plots, plot_spec, write_report  # noqa: E402
from expresults import (  # noqa: E402
    carry_over,
    collect,
    cost_macs,
    full_estimate,
    mark_not_run,
    measured_rate,
)
from exptrain import run_all, run_summary  # noqa: E402
from expworkspace import Workspace, write_val_split  # noqa: E402


def render(results, mode, out_dir, run_dir, crema, rate, t_start=None):
    """The plots, results.json and report.md from `results` (a full run's also list the claims
    not run)."""
    if mode == "full":
        mark_not_run(results, run_dir, crema, rate)
    _, note = make_plots(plot_spec(results, out_dir), run_dir)
    results["plots"] = note
    if t_start is not None:
        results["wall_s"] = time.monotonic() - t_start
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_report(results, out_dir, note)
    print(f"run_experiments: {os.path.join(out_dir, 'report.md')} ({note})", file=sys.stderr)


def render_again(mode, out_dir, run_dir, crema):
    """--report-only: the report and plots from results.json as the last invocation left it."""
    results_path = os.path.join(out_dir, "results.json")
    if not os.path.exists(results_path):
        raise SystemExit(f"run_experiments: no {results_path} to render")
    with open(results_path) as f:
        results = json.load(f)
    render(results, mode, out_dir, run_dir, crema, measured_rate(results, results.get("threads")))
    return 0


def default_out_dir(mode):
    """Where results go without --out: outside the repository's tracked files (the committed
    docs/experiments/<mode>/ are written only when asked for with --out)."""
    return os.path.join(os.getcwd(), "experiments-out", mode)


def shown_path(path):
    """A path as the report prints it: relative to the repository when inside it, else only its
    last component (no machine's folders in a committed report)."""
    p = os.path.abspath(path)
    if os.path.commonpath([p, REPO]) == REPO:
        return os.path.relpath(p, REPO)
    return ".../" + os.path.basename(p.rstrip(os.sep))


PATH_FLAGS = ("--crema", "--out", "--run-dir", "--data")


def shown_command(argv):
    """The invocation as the report prints it, its path arguments through shown_path."""
    words, after_flag = [], False
    for w in argv:
        flag, eq, value = w.partition("=")
        if after_flag:
            w = shown_path(w)
        elif eq and flag in PATH_FLAGS:
            w = f"{flag}={shown_path(value)}"
        after_flag = w in PATH_FLAGS
        words.append(w)
    return " ".join(["run_experiments.py"] + words)


def refuse_other_device(results_path, mode, gpu):
    """Results merge across invocations: refuse, before training anything, to merge runs on the
    GPU into a report of CPU runs or the other way round."""
    try:
        with open(results_path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return
    if old.get("mode") == mode and old.get("claims") and old.get("gpu") != gpu:
        device = "the CPU" if old.get("gpu") is None else f"GPU {old['gpu']}"
        raise SystemExit(
            f"run_experiments: {results_path} holds runs on {device}; "
            "give these runs their own --out (and --run-dir)"
        )


def parse_claims(s):
    try:
        ids = sorted({int(x) for x in s.split(",") if x.strip()})
    except ValueError:
        raise SystemExit(f"--claims: a comma-separated list of 1-5, not {s!r}") from None
    if not ids or any(i not in range(1, 6) for i in ids):
        raise SystemExit(f"--claims: a comma-separated list of 1-5, not {s!r}")
    return ids


def find_crema(arg):
    for c in ([arg] if arg else []) + [
        os.path.join(REPO, "build", "bin", "crema"),
        shutil.which("crema"),
    ]:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


def print_plan(mode, claims, grid, arms, m, ws, rate, threads, jobs):
    seeds = max([r.seed for r in arms] or [0])
    print(
        f"mode {mode}: {len(grid)} grid runs + {len(arms)} arm runs; "
        f"each arm {arms[0].iterations if arms else '-'} iterations of batch {m.batch} "
        f"from the first {m.train_images} training images; "
        f"seeds 1..{seeds}; -threads {threads}, {jobs} at a time"
    )
    total = 0.0
    unknown = False
    seen = {}
    for c in claims:
        print(f"\nclaim {c.id}: {c.title}\n  {c.setup}")
        for r in [g for g in grid if g.claim is c] + [a for a in arms if a.claim is c]:
            params, macs = ws.arch_stats(r.arm.arch, r.train_images) if ws.crema else (None, None)
            p = f"{params / 1e6:.2f}M" if params else "?"
            if r.kind == "arm" and r.identity() in seen:
                print(f"  {r.describe()}  ({p} params)  = {seen[r.identity()]}")
                continue
            seen[r.identity()] = r.name
            cost = cost_macs(macs, r.iterations, m.batch, r.test_interval, r.tests, m.test_batch)
            est = ""
            if cost and rate:
                total += cost / rate
                est = f"  ~{cost / rate / 60:.1f} min"
            else:
                unknown = True
            print(f"  {r.describe()}  ({p} params){est}")
        for text, _, _ in c.checks:
            print(f"  check: {text}")
    if rate:
        print(
            f"\nestimated wall time: {total / 3600:.1f} h at {rate / 1e9:.1f} G "
            f"forward-equivalent MACs/s{' (some nets unknown)' if unknown else ''}, one run at a "
            "time (divide by --jobs roughly only when the cores are free)"
        )


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="\n".join(__doc__.split("\n")[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="the smoke-test budget (default: full)")
    ap.add_argument(
        "--claims", default="1,2,3,4,5", help="comma-separated subset of 1-5 (default: all)"
    )
    ap.add_argument(
        "--dry-run", action="store_true", help="print the plan and the time estimate; train nothing"
    )
    ap.add_argument(
        "--out", help="output directory (default: experiments-out/<mode>/ in the current directory)"
    )
    ap.add_argument(
        "--run-dir", help="generated files and crema's outputs (default: build/experiments/<mode>/)"
    )
    ap.add_argument("--crema", help="the crema binary (default: build/bin/crema, else PATH)")
    ap.add_argument(
        "--threads",
        type=int,
        help="crema -threads per run (default: quick 1, full the cores / --jobs)",
    )
    ap.add_argument(
        "--gpu",
        type=int,
        metavar="N",
        help="train on GPU N (solver_mode GPU, crema train -gpu N); give it its own --out and "
        "--run-dir, since the runs are new runs, not the CPU's",
    )
    ap.add_argument("--data", default=DATA, help=f"Fashion-MNIST's idx files (default {DATA})")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    ap.add_argument("--seeds", type=int, help="seeds per arm, random_seed 1..N (default 2)")
    ap.add_argument(
        "--iterations", type=int, help="override every run's iterations (grid runs too)"
    )
    ap.add_argument(
        "--timeout", type=float, help="seconds per run before it is killed (default: none)"
    )
    ap.add_argument(
        "--rerun", action="store_true", help="train again runs that finished in the run directory"
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="render report.md and the plots again from the output directory's results.json; "
        "train nothing",
    )
    ap.add_argument(
        "--rate-gmacs",
        type=float,
        help="for --dry-run's estimate: forward-equivalent G multiply-adds/s of one run "
        f"(default {DEFAULT_RATE_GMACS:g}: ResNet-20 at 2 threads on a 2-core VM, "
        "docs/EXPERIMENTS.md)",
    )
    a = ap.parse_args(argv)
    mode = "quick" if a.quick else "full"
    m = MODES[mode]
    claim_ids = parse_claims(a.claims)
    all_claims = claims_for(mode)
    claims = [all_claims[i] for i in claim_ids]
    seeds = a.seeds or m.seeds
    if seeds < 1:
        raise SystemExit("--seeds: at least 1")
    jobs = max(1, a.jobs)
    threads = (
        a.threads if a.threads is not None else (m.threads or max(1, (os.cpu_count() or 1) // jobs))
    )
    out_dir = os.path.abspath(a.out or default_out_dir(mode))
    run_dir = os.path.abspath(a.run_dir or os.path.join(REPO, "build", "experiments", mode))
    crema = find_crema(a.crema)
    grid, arms = build_runs(mode, claims, seeds, a.iterations)

    if a.report_only:
        return render_again(mode, out_dir, run_dir, crema)
    if a.dry_run:
        rate = (a.rate_gmacs or DEFAULT_RATE_GMACS) * 1e9
        tmp = tempfile.mkdtemp(prefix="crema_exp_plan_")
        try:
            ws = Workspace(tmp, mode, crema)
            if not crema:
                print("(crema not found: no parameter counts or estimates)")
            print_plan(mode, claims, grid, arms, m, ws, rate if crema else None, threads, jobs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0

    if not crema:
        raise SystemExit(
            "run_experiments: crema not found (build it: cmake --build build; or --crema PATH)"
        )
    data = os.path.abspath(a.data)
    if not os.path.isdir(data):
        raise SystemExit(f"run_experiments: Fashion-MNIST not found in {data}")
    if a.gpu is not None:
        q = subprocess.run([crema, "device_query"], capture_output=True, text=True)
        if q.returncode != 0:
            raise SystemExit(f"run_experiments: --gpu {a.gpu}: {(q.stdout + q.stderr).strip()}")
    if m.grid_train_images + m.val_images > FM_TRAIN_SIZE:
        raise SystemExit(
            "run_experiments: the validation images overlap the grid's training images"
        )
    refuse_other_device(os.path.join(out_dir, "results.json"), mode, a.gpu)
    t_start = time.monotonic()
    ws = Workspace(
        run_dir, mode, crema, ledger=os.path.join(out_dir, "finished"), data=data, gpu=a.gpu
    )
    # Every generated net names the validation files (its "val" stage), read or not.
    write_val_split(data, ws.val_dir, m.val_images)
    os.makedirs(out_dir, exist_ok=True)
    print(
        f"run_experiments: {mode} mode, claims {','.join(map(str, claim_ids))}: {len(grid)} grid + "
        f"{len(arms)} arm runs, -threads {threads}, {jobs} at a time; "
        f"run dir {run_dir}, output {out_dir}",
        file=sys.stderr,
        flush=True,
    )
    counter = [0, len(grid) + len(arms)]
    if grid:
        run_all(grid, ws, threads, jobs, a.rerun, a.timeout, counter)
        for c in claims:
            for arm in c.arms:
                if arm.lr is None:
                    g = [{"lr": r.lr, **run_summary(r.result)} for r in grid if r.arm is arm]
                    lr, edge = em.choose_lr(g)
                    for r in arms:
                        if r.arm is arm:
                            r.lr = lr
                    print(
                        f"claim {c.id}: {arm.label}: lr {lr:g}"
                        f"{' (at the edge of the grid)' if edge else ''}",
                        file=sys.stderr,
                        flush=True,
                    )
    run_all(arms, ws, threads, jobs, a.rerun, a.timeout, counter)

    # Results: this invocation's claims, then those of earlier invocations into out_dir (same
    # mode) that are still current, so claims can be run one invocation at a time.
    results_path = os.path.join(out_dir, "results.json")
    results = {"claims": {}}
    if os.path.exists(results_path):
        try:
            with open(results_path) as f:
                old = json.load(f)
            if old.get("mode") == mode:
                results = old
        except ValueError:
            pass
    invocation = {
        "command": shown_command(argv if argv is not None else sys.argv[1:]),
        "finished": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "crema": shown_path(crema),
        "threads": threads,
        "gpu": a.gpu,
        "jobs": jobs,
    }
    now = {}
    for c in claims:
        now[str(c.id)] = collect(
            c,
            [r for r in grid if r.claim is c],
            [r for r in arms if r.claim is c],
            ws,
            out_dir,
            mode,
        )
        now[str(c.id)]["invocation"] = invocation
    earlier = {cid: c for cid, c in results.get("claims", {}).items() if cid not in now}
    kept, dropped = carry_over(earlier, now, ws, mode, seeds, a.iterations, out_dir)
    results["claims"] = {**kept, **now}
    results["dropped"] = dropped
    all_runs = grid + arms
    unique = [r for r in all_runs if not r.result.get("shared_with")]
    reused = [r for r in unique if r.result.get("reused")]
    rate = measured_rate(results, threads)
    results.update(
        {
            "mode": mode,
            **invocation,
            "wall_s": time.monotonic() - t_start,
            "claims_run": ",".join(map(str, claim_ids)),
            "n_runs": len(unique),
            "n_reused": len(reused),
            "n_shared": len(all_runs) - len(unique),
            "runs_wall_s": sum(r.result["wall_s"] for r in unique),
            "rate_gmacs": rate / 1e9 if rate else None,
            "budget": {
                "iterations": a.iterations or m.iterations,
                "batch": m.batch,
                "train_images": m.train_images,
                "test_images": m.test_images,
                "traineval_images": m.traineval_images,
                "val_images": m.val_images,
                "grid_train_images": m.grid_train_images,
                "grid_iterations": a.iterations or m.grid_iterations,
                "test_passes": m.test_passes,
                "display": m.display,
                "warmup": m.warmup,
                "seeds": list(range(1, seeds + 1)),
            },
        }
    )
    if rate and mode == "quick":
        ws_full = Workspace(os.path.join(run_dir, "full_plan"), "full", crema)
        results["full_estimate"] = full_estimate(ws_full, rate)
    elif mode == "full":
        results.pop("full_estimate", None)
    render(results, mode, out_dir, run_dir, crema, rate, t_start)
    for cid in sorted(now, key=int):
        print(f"claim {cid}: {now[cid]['title']}: reproduced at this scale? {now[cid]['verdict']}")
    if kept:
        print(f"claims {', '.join(sorted(kept, key=int))}: from earlier invocations, in the report")
    if dropped:
        print(
            f"claims {', '.join(dropped)}: results of earlier invocations dropped (their runs "
            "differ from what this invocation trains; --claims runs them again)"
        )
    failed = [r.name for r in all_runs if r.result["status"] == "failed"]
    if failed:
        print("run_experiments: failed runs: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
