# SPDX-License-Identifier: BSD-2-Clause
"""Training: one `crema train` per run, several at a time, with finished runs reused from the run
directory or from the output directory's finished/ ledger."""

import concurrent.futures
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time

import expmetrics as em
from expworkspace import solver_text, write_if_changed


def portable_fingerprint(solver, net_txt, run_dir, root):
    """The training a run is, whatever its name and wherever its run directory: the solver
    without its comment lines and both files with the paths taken out. The ledger matches on it
    across machines and across claims that share a run."""
    body = "\n".join(ln for ln in solver.splitlines() if not ln.startswith("#")) + "\n" + net_txt
    body = body.replace(run_dir, "<this run>").replace(root, "<run dir>")
    return hashlib.sha256(body.encode()).hexdigest()


def portable_cmd(cmd, root):
    """A run's command line without the machine's paths: crema by its name, the run directory
    as <run dir>."""
    words = cmd.replace(root, "<run dir>").split(" ")
    return " ".join([os.path.basename(words[0])] + words[1:]) if words[0] else cmd


def plan(run, ws):
    """What a run trains, written nowhere but the net: (run folder, solver text, net text,
    netgen's argv, metrics path, portable fingerprint)."""
    net_path, net_txt, argv = ws.net(run.arm.arch, run.train_images)
    d = os.path.join(ws.root, "runs", run.name)
    metrics_path = os.path.join(d, "metrics.jsonl")
    solver = solver_text(run, ws.m, net_path, metrics_path, ws.gpu)
    return d, solver, net_txt, argv, metrics_path, portable_fingerprint(solver, net_txt, d, ws.root)


def ledger_path(ws, run):
    return os.path.join(ws.ledger, run.name.replace("/", "__") + ".json") if ws.ledger else None


def record_finished(ws, run, res):
    """Copies a finished run (result and metrics lines) into the ledger."""
    path = ledger_path(ws, run)
    if (
        not path
        or res.get("status") not in ("ok", "diverged")
        or not os.path.exists(res["metrics_path"])
    ):
        return
    with open(res["metrics_path"]) as f:
        lines = f.read().splitlines()
    # No machine paths: restore_finished sets metrics_path in the run directory it restores into.
    entry = {k: v for k, v in res.items() if k not in ("reused", "metrics_path")}
    entry["cmd"] = portable_cmd(res.get("cmd", ""), ws.root)
    entry["metrics_lines"] = lines
    os.makedirs(ws.ledger, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(entry, f, indent=0)
    os.replace(path + ".tmp", path)


def ledger_entry(ws, run, portable):
    """The ledger's record of this training: under the run's name, else under any name (claims
    share runs, and a run trained for one claim alone is named after that claim)."""
    path = ledger_path(ws, run)
    if not path:
        return None
    candidates = [path] + sorted(glob.glob(os.path.join(ws.ledger, "*.json")))
    for c in candidates:
        if not os.path.exists(c):
            continue
        with open(c) as f:
            entry = json.load(f)
        if entry.get("portable_fingerprint") == portable and entry.get("status") in (
            "ok",
            "diverged",
        ):
            return entry
    return None


def restore_finished(ws, run, portable, fingerprint, metrics_path, result_path):
    """A run finished elsewhere (same solver and net): its files back into the run directory."""
    entry = ledger_entry(ws, run, portable)
    if entry is None:
        return None
    entry["run"] = run.name
    entry["fingerprint"] = fingerprint
    with open(metrics_path, "w") as f:
        f.write("\n".join(entry.pop("metrics_lines")) + "\n")
    entry["metrics_path"] = metrics_path
    with open(result_path, "w") as f:
        json.dump(entry, f, indent=1)
    return entry


def execute(run, ws, threads, rerun, timeout, log):
    m = ws.m
    d, solver, net_txt, argv, metrics_path, portable = plan(run, ws)
    os.makedirs(d, exist_ok=True)
    solver_path = os.path.join(d, "solver.prototxt")
    write_if_changed(solver_path, solver)
    fingerprint = hashlib.sha256((solver + net_txt).encode()).hexdigest()
    result_path = os.path.join(d, "result.json")
    if not rerun:
        old = None
        if os.path.exists(result_path):
            with open(result_path) as f:
                old = json.load(f)
            if old.get("fingerprint") != fingerprint or old.get("status") not in ("ok", "diverged"):
                old = None
        if old is None:
            old = restore_finished(ws, run, portable, fingerprint, metrics_path, result_path)
        if old is not None:
            old["portable_fingerprint"] = portable
            record_finished(ws, run, old)
            old["reused"] = True
            run.result = old
            log(run, old)
            return old
    if os.path.exists(metrics_path):
        os.remove(metrics_path)
    cmd = [ws.crema, "train", "-solver", solver_path, "-threads", str(threads)]
    if ws.gpu is not None:  # -gpu too: without the device crema refuses instead of falling back
        cmd += ["-gpu", str(ws.gpu)]
    t0 = time.monotonic()
    status = "ok"
    with open(os.path.join(d, "train.log"), "w") as errf:
        try:
            proc = subprocess.run(
                cmd, cwd=d, stdout=subprocess.PIPE, stderr=errf, text=True, timeout=timeout
            )
            stdout, rc = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as e:  # the child is killed; its output may be bytes
            out = e.stdout or ""
            stdout, rc, status = (
                out.decode(errors="replace") if isinstance(out, bytes) else out,
                None,
                "timeout",
            )
    wall = time.monotonic() - t0
    with open(os.path.join(d, "train.log")) as f:
        tail = f.read()[-4000:]
    if status == "ok" and rc != 0:
        status = "diverged" if re.search(r"loss is [-+]?(nan|inf)", tail, re.I) else "failed"
    res = {
        "run": run.name,
        "kind": run.kind,
        "claim": run.claim.id,
        "arm": run.arm.key,
        "seed": run.seed,
        "opt": run.opt,
        "lr": run.lr,
        "iterations": run.iterations,
        "batch": m.batch,
        "train_images": run.train_images,
        "tests": [s for s, _ in run.tests],
        "test_images": {s: n for s, n in run.tests},
        "test_interval": run.test_interval,
        "threads": threads,
        "device": "CPU" if ws.gpu is None else f"GPU {ws.gpu}",
        "status": status,
        "returncode": rc,
        "wall_s": round(wall, 2),
        "cmd": " ".join(cmd),
        "netgen": " ".join(argv),
        "fingerprint": fingerprint,
        "portable_fingerprint": portable,
        "metrics_path": metrics_path,
        "stdout": (stdout or "")[-2000:],
    }
    if status == "failed":
        res["log_tail"] = tail[-1500:]
    with open(result_path, "w") as f:
        json.dump(res, f, indent=1)
    record_finished(ws, run, res)
    run.result = res
    log(run, res)
    return res


def run_all(runs, ws, threads, jobs, rerun, timeout, counter):
    lock = threading.Lock()

    def log(run, res):
        with lock:
            counter[0] += 1
            extra = ""
            if res["status"] in ("ok", "diverged") and os.path.exists(res["metrics_path"]):
                s = run_summary(res)
                key = "val_error" if run.kind == "grid" else "test_error"
                if s.get(key) is not None:
                    extra = f", {key.replace('_', ' ')} {100 * s[key]:.2f}%"
            print(
                f"[{counter[0]}/{counter[1]}] {run.name}: {res['status']}{extra} "
                f"({res['wall_s']:.0f} s{', reused' if res.get('reused') else ''})",
                file=sys.stderr,
                flush=True,
            )

    # Runs that are the same training (same net, optimiser, lr, seed, budget and test nets: claim
    # 4's post-activation arms are claim 1's ResNets, claim 3's standard arm is claim 1's
    # shallower ResNet) are trained once and shared.
    canonical, shared = {}, []
    for r in runs:
        ident = r.identity()
        if ident in canonical:
            shared.append((r, canonical[ident]))
        else:
            canonical[ident] = r
    todo = list(canonical.values())
    counter[1] -= len(shared)
    if jobs <= 1:
        for r in todo:
            execute(r, ws, threads, rerun, timeout, log)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
            for fut in [ex.submit(execute, r, ws, threads, rerun, timeout, log) for r in todo]:
                fut.result()
    for r, c in shared:
        r.result = dict(c.result, run=r.name, claim=r.claim.id, arm=r.arm.key, shared_with=c.name)


def run_summary(res):
    """Final numbers and curves of one finished run from its metrics file."""
    out = {"status": res["status"], "wall_s": res["wall_s"], "seed": res["seed"], "lr": res["lr"]}
    path = res["metrics_path"]
    if not os.path.exists(path):
        return out
    mt = em.parse_metrics(path)
    idx = {s: i for i, s in enumerate(res["tests"])}
    out["train_loss"] = mt.final_train_loss()
    out["images_per_s"] = mt.median_images_per_s()
    out["final_iter"] = mt.last_iter()
    out["bad_lines"] = mt.bad_lines
    curves = {"loss": mt.loss_curve()}
    for stage, key in (("test", "test_error"), ("trainset", "train_error"), ("val", "val_error")):
        if stage in idx:
            fin = mt.final_test(idx[stage])
            out[key] = 1.0 - fin[1] if fin else None
            out[key + "_iter"] = fin[0] if fin else None
            curves[key] = mt.error_curve(idx[stage])
            lossfin = mt.final_test(idx[stage], "loss")
            if lossfin:  # the loss in TEST mode (not the training loss of the displays)
                out[
                    {"test": "test_loss", "trainset": "trainset_eval_loss", "val": "val_loss"}[
                        stage
                    ]
                ] = lossfin[1]
    if res["status"] != "ok":  # a diverged, failed or killed run has no final score
        for key in ("test_error", "train_error", "val_error"):
            out[key] = None
    out["curves"] = curves
    return out
