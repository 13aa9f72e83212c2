# SPDX-License-Identifier: BSD-2-Clause
"""The report: plots of each claim's curves (drawn by plots.py) and report.md."""

import json
import os
import shutil
import subprocess
import sys

import expmetrics as em
from expplan import GRID_SEED, MODES, OPTIMIZERS, TRAIN_COST

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def mean_curve(curves):
    """Mean over seeds at the iterations all of them have."""
    if not curves:
        return [], []
    common = set(it for it, _ in curves[0])
    for c in curves[1:]:
        common &= set(it for it, _ in c)
    xs = sorted(common)
    ys = [sum(dict(c)[x] for c in curves) / len(curves) for x in xs]
    return xs, ys


def plot_spec(results, out_dir):
    figs = []
    for cid in sorted(results["claims"], key=int):
        c = results["claims"][cid]
        panels = []
        for key, title, ylabel in (
            ("loss", "training loss (smoothed)", "loss"),
            ("train_error", "training error (TEST mode, training slice)", "error"),
            ("test_error", "test error", "error"),
        ):
            series = []
            for i, a in enumerate(c["arms"]):
                curves = [
                    r["curves"].get(key, []) for r in a["runs"] if r.get("curves", {}).get(key)
                ]
                for cv in curves:
                    series.append(
                        {
                            "x": [p[0] for p in cv],
                            "y": [p[1] for p in cv],
                            "faint": True,
                            "color": i,
                        }
                    )
                xs, ys = mean_curve(curves)
                series.append(
                    {"label": a["label"], "x": xs, "y": ys, "color": i, "marker": key != "loss"}
                )
            panels.append(
                {
                    "title": title,
                    "xlabel": "iteration",
                    "ylabel": ylabel,
                    "series": series,
                    "logy": False,
                }
            )
        figs.append(
            {
                "path": os.path.join(out_dir, f"claim{cid}.png"),
                "title": f"Claim {cid}: {c['title']} ({results['mode']} mode; thin lines: seeds)",
                "panels": panels,
            }
        )
        if c.get("grid"):
            series = []
            for i, opt in enumerate(OPTIMIZERS):
                g = sorted((x for x in c["grid"] if x["opt"] == opt), key=lambda x: x["lr"])
                pts = [(x["lr"], x["val_error"] if x["val_error"] is not None else 1.0) for x in g]
                series.append(
                    {
                        "label": OPTIMIZERS[opt][0],
                        "x": [p[0] for p in pts],
                        "y": [p[1] for p in pts],
                        "color": i,
                        "marker": True,
                    }
                )
            figs.append(
                {
                    "path": os.path.join(out_dir, f"claim{cid}_grid.png"),
                    "title": f"Claim {cid}: learning-rate grid "
                    f"(validation error, seed {GRID_SEED})",
                    "panels": [
                        {
                            "title": "validation error at the end of the grid run",
                            "xlabel": "base_lr",
                            "ylabel": "error",
                            "logx": True,
                            "series": series,
                        }
                    ],
                }
            )
    return {"figures": figs}


def make_plots(spec, run_dir):
    """Renders spec; returns (backend or None, note)."""
    spec_path = os.path.join(run_dir, "plots.json")
    os.makedirs(run_dir, exist_ok=True)
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    script = os.path.join(HERE, "plots.py")
    candidates = [sys.executable]
    if os.path.exists("/usr/bin/python3") and os.path.realpath(
        "/usr/bin/python3"
    ) != os.path.realpath(sys.executable):
        candidates.append("/usr/bin/python3")
    for py in candidates:
        probe = subprocess.run([py, "-c", "import matplotlib"], capture_output=True)
        if probe.returncode == 0:
            r = subprocess.run(
                [py, script, spec_path, "--backend", "matplotlib"], capture_output=True, text=True
            )
            if r.returncode == 0:
                return "matplotlib", f"plots drawn with matplotlib ({py})"
            return None, "matplotlib failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    if shutil.which("gnuplot"):
        r = subprocess.run(
            [sys.executable, script, spec_path, "--backend", "gnuplot"],
            capture_output=True,
            text=True,
        )
        if r.returncode == 0:
            return "gnuplot", "plots drawn with gnuplot"
        return None, "gnuplot failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None, (
        "plots skipped: neither matplotlib (pip, or Debian's python3-matplotlib for "
        "/usr/bin/python3) nor gnuplot is installed; the curves are in results.json and "
        "the metrics files"
    )


def pct(s):
    return em.fmt_stat(s, 100, 2)


def fmt_dur(seconds):
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def fmt_h(hours):
    if hours is None:
        return "?"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def where(results):
    """Where the runs trained, as the report says it: the threads, and the GPU if any."""
    gpu = results.get("gpu")
    return (
        f"`-threads {results['threads']}`"
        if gpu is None
        else f"GPU {gpu} (`-gpu {gpu}`, `-threads {results['threads']}` for the host's work)"
    )


def split_claims(results):
    """(the claims the latest invocation ran, those kept from earlier ones) as sorted id lists."""
    ids = sorted(results["claims"], key=int)
    run = results.get("claims_run")
    now = [c for c in ids if run is None or c in run.split(",")]
    return now, [c for c in ids if c not in now]


def summary_table(L, results, ids):
    L.append("| # | claim | checks that hold | reproduced at this scale? |")
    L.append("|---|---|---|---|")
    for cid in ids:
        c = results["claims"][cid]
        n_hold = sum(1 for k in c["checks"] if k["outcome"] == em.HOLDS)
        L.append(f"| {cid} | {c['title']} | {n_hold} of {len(c['checks'])} | **{c['verdict']}** |")


def results_table(L, results, ids):
    L.append(
        "| claim | arm | params | optimiser, lr | test error % | train error % | train loss | "
        "images/s | wall per run | reproduced? |"
    )
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for cid in ids:
        c = results["claims"][cid]
        for i, a in enumerate(c["arms"]):
            st = a["stats"]
            bad = [f"seed {r['seed']} {r['status']}" for r in a["runs"] if r["status"] != "ok"]
            lr = "?" if a["lr"] is None else f"{a['lr']:g}"
            if a.get("grid_lrs"):
                lr += (
                    " (grid "
                    + ", ".join(f"{x:g}" for x in a["grid_lrs"])
                    + (", at the edge" if a.get("lr_at_edge") else "")
                    + ")"
                )
            params = f"{a['params'] / 1e6:.3f} M" if a.get("params") else "?"
            ips = f"{st['images_per_s']['mean']:.0f}" if st.get("images_per_s") else "n/a"
            wall = em.fmt_stat(st["wall_s"], 1, 0, " s") if st.get("wall_s") else "n/a"
            L.append(
                f"| {f'{cid}. ' + c['title'] if i == 0 else ''} | {a['label']}"
                f"{' (' + '; '.join(bad) + ')' if bad else ''} | {params} | "
                f"{a['opt_label']}, {lr} | "
                f"{pct(st['test_error'])} | {pct(st['train_error'])} | "
                f"{em.fmt_stat(st['train_loss'], 1, 3)} | {ips} | {wall} | "
                f"{'**' + c['verdict'] + '**' if i == 0 else ''} |"
            )
    L.append("")


def claim_sections(L, results, ids, out_dir, level):
    for cid in ids:
        c = results["claims"][cid]
        L.append(f"{level} Claim {cid}: {c['title']}")
        L.append("")
        L.append(f"*Expected:* {c['expectation']}  ")
        L.append(f"*Reference:* {c['reference']}.  ")
        L.append(f"*Setup:* {c['setup']}.")
        L.append("")
        L.append("| check (A < B) | A | B | outcome |")
        L.append("|---|---|---|---|")
        for k in c["checks"]:
            fmt = (lambda s: em.fmt_stat(s, 1, 1, " s")) if k["metric"] == "wall_s" else pct
            unit = "" if k["metric"] == "wall_s" else " %"
            a_text = fmt(k["a"]) + (unit if k["a"] else "")
            b_text = fmt(k["b"]) + (unit if k["b"] else "")
            L.append(f"| {k['text']} | {a_text} | {b_text} | {k['outcome']} |")
        L.append("")
        L.append(f"Reproduced at this scale: **{c['verdict']}**.")
        L.append("")
        if c.get("grid"):
            L.append(
                "Learning-rate grid (one run each, seed "
                f"{GRID_SEED}, scored on the held-out validation images; the chosen lr in bold):"
            )
            L.append("")
            L.append("| optimiser | lr | validation error % | final train loss | status |")
            L.append("|---|---|---|---|---|")
            chosen = {a["opt"]: a["lr"] for a in c["arms"]}
            for g in c["grid"]:
                lr = f"{g['lr']:g}"
                if chosen.get(g["opt"]) == g["lr"]:
                    lr = f"**{lr}**"
                ve = "n/a" if g["val_error"] is None else f"{100 * g['val_error']:.2f}"
                tl = "n/a" if g["train_loss"] is None else f"{g['train_loss']:.3f}"
                L.append(f"| {g['label']} | {lr} | {ve} | {tl} | {g['status']} |")
            L.append("")
            if os.path.exists(os.path.join(out_dir, f"claim{cid}_grid.png")):
                L.append(f"![claim {cid} grid](claim{cid}_grid.png)")
                L.append("")
        if os.path.exists(os.path.join(out_dir, f"claim{cid}.png")):
            L.append(f"![claim {cid}](claim{cid}.png)")
            L.append("")
        failed = [(a["label"], r) for a in c["arms"] for r in a["runs"] if r["status"] == "failed"]
        for label, r in failed:
            L.append(f"{label}, seed {r['seed']} failed; the end of its log:")
            L.append("")
            L.append("```")
            L.append(r.get("log_tail", "").strip()[-800:])
            L.append("```")
            L.append("")


def write_report(results, out_dir, plot_note):
    mode = results["mode"]
    b = results["budget"]
    L = []
    L.append(f"# ResNet findings on Fashion-MNIST: {mode} mode")
    L.append("")
    # A link into the repository only from inside it: from elsewhere it would spell out folders
    # of this machine.
    docs = "docs/EXPERIMENTS.md"
    if os.path.commonpath([os.path.abspath(out_dir), REPO]) == REPO:
        docs = f"[{docs}]({os.path.relpath(os.path.join(REPO, docs), out_dir)})"
    L.append(
        f"Written by `tools/experiments/run_experiments.py` ({results['command']}) on "
        f"{results['finished']}; `crema` {results['crema']}, {where(results)}, "
        f"{results['jobs']} run(s) at a time. How to run it and what each claim is: {docs}."
    )
    L.append("")
    if mode == "quick":
        L.append(
            "**Quick mode is a smoke test of the pipeline, not an experiment**: a slice of "
            "the data, a few dozen iterations, shallow nets. Its verdicts say nothing about "
            "the claims; the full mode's do."
        )
        L.append("")
    L.append(
        f"Budget of every arm: {b['iterations']} iterations of batch {b['batch']} from the first "
        f"{b['train_images']:,} training images (cosine learning rate, {b['warmup']} warm-up "
        f"iterations, weight decay 5e-4), seeds {', '.join(str(s) for s in b['seeds'])} "
        f"(`random_seed`). Test error: the first {b['test_images']:,} test images; training "
        f"error: the first {b['traineval_images']:,} training images, in TEST mode (BN "
        f"running statistics, no dropout); both at the end of the run, {b['test_passes']} "
        f"test passes in all. Training loss: the solver's smoothed loss (mean over the last "
        f"{b['display']} iterations) at the last display. Claim 2's grid runs train "
        f"{b['grid_iterations']} iterations on the first {b['grid_train_images']:,} images "
        f"and are scored on the last {b['val_images']:,} training images (held out)."
    )
    L.append("")
    L.append(
        '**Rule.** Each claim is a list of checks "A < B" (errors, losses, wall times) over '
        "the seeds. A check *holds* when the largest A is below the smallest B (the expected "
        "order beyond the spread: the ranges over the seeds do not overlap), is *ordered "
        "within spread* when only the means are in order, *reversed within spread* when the "
        "means are not, and is *contradicted* when the smallest A is above the largest B. "
        "Reproduced at this scale: **yes** when every check holds, **no** when any is "
        "contradicted, else **inconclusive**. Figures are mean ± spread over the seeds, the "
        "spread being half the range (max - min) / 2."
    )
    L.append("")
    now, earlier = split_claims(results)
    L.append("## Summary")
    L.append("")
    summary_table(L, results, now)
    not_run = results.get("not_run", {})
    for cid in sorted(not_run, key=int):
        L.append(f"| {cid} | {not_run[cid]['title']} | — | not run yet |")
    L.append("")
    if not_run:
        parts = []
        for cid in sorted(not_run, key=int):
            nr = not_run[cid]
            cost = (
                f"{nr['runs']} runs not shared with a finished claim, about {nr['hours']:.1f} h "
                f"of training one run at a time at the throughput measured here"
                if nr.get("hours")
                else "cost unknown"
            )
            parts.append(f"claim {cid} ({cost})")
        L.append(
            "Not run yet in this mode: " + "; ".join(parts) + ". `--claims` runs them; the "
            "finished/ ledger keeps every finished run, so an interrupted invocation resumes."
        )
        L.append("")
    if results.get("dropped"):
        L.append(
            f"Dropped: the results of claim(s) {', '.join(results['dropped'])} from earlier "
            "invocations, whose runs differ from what this invocation trains (another budget, "
            "net, solver or device); `--claims` runs them again."
        )
        L.append("")
    L.append("## Results")
    L.append("")
    results_table(L, results, now)
    claim_sections(L, results, now, out_dir, "##")
    if earlier:
        L.append("## Claims from earlier invocations")
        L.append("")
        L.append(
            f"Claim(s) {', '.join(earlier)}: not run by the invocation above but by earlier "
            "invocations into this directory, and kept because every run they hold is the "
            "training the invocation above would do (the same nets, solvers, budget and device: "
            "the same fingerprints). A run shared with a claim above shows that claim's numbers."
        )
        L.append("")
        for cid in earlier:
            inv = results["claims"][cid].get("invocation")
            L.append(
                f"- Claim {cid}: "
                + (
                    f"`{inv['command']}` on {inv['finished']}, {where(inv)}, "
                    f"{inv['jobs']} run(s) at a time."
                    if inv
                    else "an earlier invocation."
                )
            )
        L.append("")
        summary_table(L, results, earlier)
        L.append("")
        results_table(L, results, earlier)
        claim_sections(L, results, earlier, out_dir, "###")
    L.append("## Wall time")
    L.append("")
    reuse = (
        f"{results['n_reused']} of them were reused from an earlier invocation in the run "
        "directory; "
        if results["n_reused"]
        else ""
    )
    L.append(
        f"Latest invocation (claims {results.get('claims_run', '?')}): {results['n_runs']} runs "
        f"({results['n_shared']} more arms shared a run with another claim), "
        f"{fmt_dur(results['runs_wall_s'])} of training in all (the sum of their wall "
        f"times); {reuse}the invocation itself took {fmt_dur(results['wall_s'])}. "
        "Measured throughput: "
        f"{results['rate_gmacs']:.1f} G forward-equivalent multiply-adds/s "
        f"(training image = {TRAIN_COST:g} forwards; all of each run's work over its wall "
        f"time, start-up and test passes included) at {where(results)}."
        if results.get("rate_gmacs")
        else "No throughput measured."
    )
    L.append("")
    est = results.get("full_estimate")
    if est:
        L.append(
            f"Expected full-mode wall time at that rate, i.e. with {where(results)} "
            f"({MODES['full'].seeds} seeds, {MODES['full'].iterations} iterations of batch "
            f"{MODES['full'].batch} per arm, one run at a time; docs/EXPERIMENTS.md has the "
            "estimate for 2 threads):"
        )
        L.append("")
        L.append("| claims | runs | estimate |")
        L.append("|---|---|---|")
        for cid in sorted((k for k in est if k != "all"), key=int):
            e = est[cid]
            L.append(f"| {cid} alone | {e['runs']} | {fmt_h(e['hours'])} |")
        e = est["all"]
        L.append(f"| all five (shared runs once) | {e['runs']} | {fmt_h(e['hours'])} |")
        L.append("")
        L.append(
            "The rate is one figure for every net: thin deep nets (16 channels) use the cores "
            "less well than wide ones, so claims 1, 4 and 5's thin nets may take longer; "
            "the machine's other load at the time also counts."
        )
        L.append("")
    L.append("## Files")
    L.append("")
    L.append(
        "`results.json` (every number above, the curves, the commands), "
        "`metrics/claim<N>/<arm>_seed<S>.jsonl` (the raw crema metrics files: training displays, "
        "and test passes: `test_net` 0 = the test set, 1 = the training slice; claim 2's grid "
        "runs: `test_net` 0 = the validation images), "
        f"`claim<N>.png`. {plot_note[0].upper() + plot_note[1:]}."
    )
    L.append("")
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(L))
