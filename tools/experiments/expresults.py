# SPDX-License-Identifier: BSD-2-Clause
"""Results: each claim's arms, runs and checks from the finished runs, and the cost model (the
throughput measured, the hours the claims not run yet would take)."""

import os
import shutil

import expmetrics as em
from expplan import MODES, OPTIMIZERS, TRAIN_COST, build_runs, claims_for
from exptrain import plan, run_summary
from expworkspace import Workspace


def cost_macs(macs, iterations, batch, test_interval, tests, test_batch):
    """Forward-equivalent multiply-adds of one run: training images x 3 plus the test passes."""
    if not macs:
        return None
    passes = -(-iterations // test_interval)
    evals = passes * sum(-(-n // test_batch) * test_batch for _, n in tests)
    return macs * (TRAIN_COST * iterations * batch + evals)


def collect(claim, grid_runs, arm_runs, ws, out_dir, mode):
    m = MODES[mode]
    cres = {
        "id": claim.id,
        "title": claim.title,
        "expectation": claim.expectation,
        "reference": claim.reference,
        "setup": claim.setup,
        "arms": [],
        "checks": [],
        "grid": [],
    }
    metrics_dir = os.path.join(out_dir, "metrics")
    for r in grid_runs:
        s = run_summary(r.result)
        dst = os.path.join(metrics_dir, r.name + ".jsonl")
        copy_metrics(r.result["metrics_path"], dst)
        cres["grid"].append(
            {
                "opt": r.opt,
                "label": OPTIMIZERS[r.opt][0],
                "lr": r.lr,
                "status": s["status"],
                "val_error": s.get("val_error"),
                "train_loss": s.get("train_loss"),
                "wall_s": s["wall_s"],
                "metrics": os.path.relpath(dst, out_dir),
                "fingerprint": r.result.get("portable_fingerprint"),
            }
        )
    for arm in claim.arms:
        params, macs = ws.arch_stats(arm.arch, m.train_images)
        runs = [r for r in arm_runs if r.arm is arm]
        entry = {
            "key": arm.key,
            "label": arm.label,
            "arch": arm.arch.label,
            "params": params,
            "macs_per_image": macs,
            "opt": arm.opt,
            "opt_label": OPTIMIZERS[arm.opt][0],
            "lr": runs[0].lr if runs else arm.lr,
            "runs": [],
        }
        if arm.lr is None:
            g = [x for x in cres["grid"] if x["opt"] == arm.opt]
            entry["grid_lrs"] = [x["lr"] for x in g]
            entry["lr_at_edge"] = em.choose_lr(g)[1]
        for r in runs:
            s = run_summary(r.result)
            dst = os.path.join(metrics_dir, r.name + ".jsonl")
            copy_metrics(r.result["metrics_path"], dst)
            s["metrics"] = os.path.relpath(dst, out_dir)
            s["cost_macs"] = cost_macs(
                macs, r.iterations, m.batch, r.test_interval, r.tests, m.test_batch
            )
            s["threads"] = r.result["threads"]
            s["fingerprint"] = r.result.get("portable_fingerprint")
            if s["status"] == "failed":
                s["log_tail"] = r.result.get("log_tail", "")
            entry["runs"].append(s)
        cres["arms"].append(entry)
    return evaluate(claim, cres)


def evaluate(claim, cres):
    """Each arm's statistics over its runs, the claim's checks and its verdict."""
    for entry in cres["arms"]:
        entry["stats"] = {
            k: em.summarize([x.get(k) for x in entry["runs"]])
            for k in ("test_error", "train_error", "train_loss", "wall_s", "images_per_s")
        }
    by_key = {a["key"]: a for a in cres["arms"]}

    def side(expr):
        if expr[0] == "arm":
            return {x["seed"]: x.get(expr[2]) for x in by_key[expr[1]]["runs"]}
        _, x, y, metric = expr
        return em.paired_difference(
            {r["seed"]: r.get(metric) for r in by_key[x]["runs"]},
            {r["seed"]: r.get(metric) for r in by_key[y]["runs"]},
        )

    cres["checks"] = []
    for text, a, b in claim.checks:
        va, vb = side(a), side(b)
        outcome = em.check_order(list(va.values()), list(vb.values()))
        cres["checks"].append(
            {
                "text": text,
                "metric": a[-1],
                "outcome": outcome,
                "a": em.summarize(list(va.values())),
                "b": em.summarize(list(vb.values())),
            }
        )
    cres["verdict"] = em.claim_verdict([c["outcome"] for c in cres["checks"]])
    return cres


def run_keys(cres):
    """{run key: fingerprint} of a claim's results: (arm key, seed) for an arm's run, ("grid",
    optimiser, lr) for a grid point."""
    keys = {("grid", g["opt"], g["lr"]): g.get("fingerprint") for g in cres.get("grid", [])}
    for a in cres["arms"]:
        for r in a["runs"]:
            keys[(a["key"], r["seed"])] = r.get("fingerprint")
    return keys


def planned_keys(claim, cres, ws, mode, seeds, iterations):
    """{run key: fingerprint} of the runs this invocation would train for `claim` (claim 2's
    arms at the lr its results chose), or None when an lr is unknown."""
    grid, arms = build_runs(mode, [claim], seeds, iterations)
    chosen = {a["key"]: a["lr"] for a in cres["arms"]}
    keys = {}
    for r in grid + arms:
        if r.lr is None:
            r.lr = chosen.get(r.arm.key)
            if r.lr is None:
                return None
        key = ("grid", r.opt, r.lr) if r.kind == "grid" else (r.arm.key, r.seed)
        keys[key] = plan(r, ws)[-1]
    return keys


def carry_over(earlier, now, ws, mode, seeds, iterations, out_dir):
    """The claims of earlier invocations (`earlier`: id -> results) that are still current: every
    run they hold has the fingerprint this invocation would give it (same nets, solvers, budget,
    device), and no run is missing or extra. A run one of them shares with a claim run now
    (`now`) takes that run's numbers and metrics file, and the claim's checks are evaluated
    again, so a shared run shows one number everywhere. Returns (kept: id -> results, the ids
    dropped)."""
    current = {}
    for c in now.values():
        for a in c["arms"]:
            for r in a["runs"]:
                if r.get("fingerprint"):
                    current[r["fingerprint"]] = r
    claims = claims_for(mode)
    kept, dropped = {}, []
    for cid, cres in sorted(earlier.items(), key=lambda kv: int(kv[0])):
        have = run_keys(cres)
        want = planned_keys(claims[int(cid)], cres, ws, mode, seeds, iterations)
        if None in have.values() or have != want:
            dropped.append(cid)
            continue
        for a in cres["arms"]:
            for i, r in enumerate(a["runs"]):
                twin = current.get(r["fingerprint"])
                if twin is None:
                    continue
                if twin["metrics"] != r["metrics"]:
                    copy_metrics(
                        os.path.join(out_dir, twin["metrics"]), os.path.join(out_dir, r["metrics"])
                    )
                a["runs"][i] = dict(twin, metrics=r["metrics"])
        kept[cid] = evaluate(claims[int(cid)], cres)
    return kept, dropped


def copy_metrics(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.exists(src):
        shutil.copyfile(src, dst)


def measured_rate(results, threads):
    """Forward-equivalent MACs/s of the finished runs at `threads` threads (None without any)."""
    work, wall = 0.0, 0.0
    for c in results["claims"].values():
        for arm in c["arms"]:
            for r in arm["runs"]:
                if r.get("cost_macs") and r["status"] == "ok" and r.get("threads") == threads:
                    work += r["cost_macs"]
                    wall += r["wall_s"]
    return work / wall if wall else None


def mark_not_run(results, run_dir, crema, rate):
    """Full mode: the claims no invocation has run yet in this output directory, for the report,
    with what they would cost at the throughput the finished runs measured."""
    results.pop("not_run", None)
    missing = [
        c for cid, c in sorted(claims_for("full").items()) if str(cid) not in results["claims"]
    ]
    if not missing:
        return
    done = {int(cid) for cid in results["claims"]}
    est = (
        full_estimate(Workspace(os.path.join(run_dir, "full_plan"), "full", crema), rate, done)
        if rate and crema
        else {}
    )
    results["not_run"] = {
        str(c.id): {
            "title": c.title,
            "runs": est.get(str(c.id), {}).get("runs"),
            "hours": est.get(str(c.id), {}).get("hours"),
        }
        for c in missing
    }


def full_estimate(ws_full, rate, done_claims=()):
    """Wall time of the full mode at `rate` forward-equivalent MACs/s: {claim id: {runs, hours}}
    for each claim run alone, and "all": every claim in one invocation (shared runs once; claim
    2's SGD arm counted apart, its lr being unknown until the grid has run). Runs that are the
    same training as one of `done_claims`' runs (already finished) are left out."""
    m = MODES["full"]
    claims = claims_for("full")
    grid, arms = build_runs("full", list(claims.values()), m.seeds)
    done = {r.identity() for r in arms if r.claim.id in done_claims}
    out, seen = {}, set()
    total = {"runs": 0, "macs": 0.0}
    for r in grid + arms:
        if r.claim.id in done_claims or (r.kind != "grid" and r.identity() in done):
            continue
        _, macs = ws_full.arch_stats(r.arm.arch, r.train_images)
        c = cost_macs(macs, r.iterations, m.batch, r.test_interval, r.tests, m.test_batch) or 0.0
        e = out.setdefault(str(r.claim.id), {"runs": 0, "macs": 0.0})
        e["runs"] += 1
        e["macs"] += c
        if r.kind == "grid" or r.identity() not in seen:
            seen.add(r.identity())
            total["runs"] += 1
            total["macs"] += c
    out["all"] = total
    for e in out.values():
        e["hours"] = e["macs"] / rate / 3600 if rate else None
    return out
