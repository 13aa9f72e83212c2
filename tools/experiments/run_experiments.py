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
docs/experiments/<mode>/) receives report.md, results.json, claim<N>.png and metrics/ (the raw
metrics files). A run whose solver and net are unchanged since a finished run in the same run
directory is not trained again (--rerun forces it): an interrupted full run resumes. Each finished
run is also recorded in the output directory's finished/ ledger (its result and metrics), which is
committed with the report, so a long full run resumes on another machine or in a fresh clone.

Python 3 standard library only; plots need matplotlib (this interpreter or Debian's
/usr/bin/python3 with python3-matplotlib) or gnuplot, else they are skipped with a note.
"""
import argparse
import concurrent.futures
import datetime
import gzip
import glob
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools", "netgen"))
import expmetrics as em  # noqa: E402
import netgen  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
FM_TRAIN_SIZE = 60000
GRID_SEED = 101  # the grid search's seed: none of the arms' seeds
# Forward + backward of a training image costs about 3 forward passes (the backward pass computes
# the gradients of the data and of the weights, each about one forward's multiply-adds).
TRAIN_COST = 3.0
# Effective multiply-add rate (forward-equivalent MACs per second, all of a run's work over its
# wall time) used by --dry-run when no measured run is at hand: ResNet-20 training at ~500 img/s
# with 2 threads on the 2-core development machine (batch 128), 3 x 31.0 M MACs an image.
DEFAULT_RATE_GMACS = 45.0


# ----------------------------------------------------------------------------------------------
# Budgets
# ----------------------------------------------------------------------------------------------
class Mode:
    def __init__(self, **kw):
        self.__dict__.update(kw)


MODES = {
    # A smoke test of the whole pipeline: a slice of the data, a few dozen iterations, shallow
    # nets. Its verdicts say nothing about the claims.
    # BatchNorm's running averages over ~10 iterations (moving_average_fraction 0.9): with the
    # full mode's 0.99 (~100 iterations) the TEST-mode statistics of a 60-iteration run still
    # carry its first iterations.
    "quick": Mode(name="quick", train_images=2000, grid_train_images=2000, val_images=1000,
                  test_images=1000, traineval_images=500, batch=64, test_batch=100,
                  iterations=60, test_passes=3, grid_iterations=40, grid_test_passes=1,
                  display=5, warmup=5, seeds=2, threads=1, bn_maf=0.9),
    # The real budget: the net_defs/ schedule (6 epochs of 469 iterations at batch 128, cosine,
    # 200 warm-up iterations). The grid search trains on the first 50,000 images for 2 epochs
    # and scores the last 10,000 (never the test set).
    "full": Mode(name="full", train_images=60000, grid_train_images=50000, val_images=10000,
                 test_images=10000, traineval_images=10000, batch=128, test_batch=100,
                 iterations=2814, test_passes=6, grid_iterations=782, grid_test_passes=2,
                 display=50, warmup=200, seeds=2, threads=0, bn_maf=0.99),
}


# ----------------------------------------------------------------------------------------------
# Architectures (netgen flags) and optimisers
# ----------------------------------------------------------------------------------------------
class Arch:
    def __init__(self, key, label, flags):
        self.key, self.label, self.flags = key, label, flags


def resnet(d):
    return Arch(f"resnet{d}", f"ResNet-{d}", ["--depth", str(d), "--shortcut", "B"])


def plain(d):
    return Arch(f"plain{d}", f"plain-{d}", ["--depth", str(d), "--plain"])


def preact(d, dropout=0.0):
    a = Arch(f"resnet{d}_preact", f"ResNet-{d} pre-act", ["--depth", str(d), "--shortcut", "B", "--preact"])
    return with_dropout(a, dropout)


def bn_after_add(d):
    return Arch(f"resnet{d}_bn_after_add", f"ResNet-{d} BN after add",
                ["--depth", str(d), "--shortcut", "B", "--bn-after-add"])


def wrn(d, k, dropout=0.0):
    return with_dropout(Arch(f"wrn_{d}_{k}", f"WRN-{d}-{k}",
                             ["--arch", "wrn", "--depth", str(d), "--width", str(k)]), dropout)


def with_dropout(a, p):
    if p:
        a.key += "_dropout"
        a.label += f" + dropout {p:g}"
        a.flags = a.flags + ["--dropout", str(p)]
    return a


# name: (label, crema type, fixed solver fields, lr grid {mode: [...]})
OPTIMIZERS = {
    "sgd": ("SGD+momentum", "SGD", [("momentum", 0.9)],
            {"quick": [0.03, 0.1], "full": [0.03, 0.1, 0.3]}),
    "rmsprop": ("RMSProp", "RMSProp", [("rms_decay", 0.9), ("delta", 1e-8)],
                {"quick": [3e-4, 1e-3], "full": [3e-4, 1e-3, 3e-3, 1e-2]}),
    "adagrad": ("AdaGrad", "AdaGrad", [("delta", 1e-8)],
                {"quick": [0.01, 0.03], "full": [0.01, 0.03, 0.1, 0.3]}),
    "adadelta": ("AdaDelta", "AdaDelta", [("momentum", 0.95), ("delta", 1e-6)],
                 {"quick": [0.3, 1.0], "full": [0.3, 1.0, 3.0, 10.0]}),
    "adam": ("Adam", "Adam", [("momentum", 0.9), ("momentum2", 0.999), ("delta", 1e-8)],
             {"quick": [3e-4, 1e-3], "full": [3e-4, 1e-3, 3e-3, 1e-2]}),
}
DEFAULT_OPT, DEFAULT_LR = "sgd", 0.1  # every claim but 2: the net_defs/ solver


# ----------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------
class Arm:
    def __init__(self, key, label, arch, opt=DEFAULT_OPT, lr=DEFAULT_LR):
        self.key, self.label, self.arch, self.opt, self.lr = key, label, arch, opt, lr


class Claim:
    def __init__(self, cid, title, expectation, reference, setup, arms, checks):
        self.id, self.title, self.expectation, self.reference = cid, title, expectation, reference
        self.setup, self.arms, self.checks = setup, arms, checks


# A check: (text, A, B): A's values are expected below B's. A side is ("arm", arm key, metric)
# or ("diff", arm x, arm y, metric): the per-seed difference x - y.
def claims_for(mode):
    q = mode == "quick"
    lo, hi = (8, 20) if q else (20, 56)
    base = 8 if q else 20
    c = {}
    arms = [Arm("plain_lo", f"plain-{lo}", plain(lo)), Arm("plain_hi", f"plain-{hi}", plain(hi)),
            Arm("res_lo", f"ResNet-{lo}", resnet(lo)), Arm("res_hi", f"ResNet-{hi}", resnet(hi))]
    c[1] = Claim(1, "Shortcuts make depth help",
                 f"Without shortcuts the deeper net trains worse (plain-{hi} has a higher training "
                 f"error than plain-{lo}: the degradation problem); with them depth helps (ResNet-{hi} "
                 f"has a lower test error than ResNet-{lo} and than plain-{hi}).",
                 "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016 "
                 "(arXiv:1512.03385), Fig. 1, 4, 6 and Table 6",
                 f"depths {lo} and {hi}; option B shortcuts; SGD+momentum, lr {DEFAULT_LR}", arms, [
                     (f"plain-{lo} train error < plain-{hi} (degradation)",
                      ("arm", "plain_lo", "train_error"), ("arm", "plain_hi", "train_error")),
                     (f"ResNet-{hi} train error < plain-{hi}",
                      ("arm", "res_hi", "train_error"), ("arm", "plain_hi", "train_error")),
                     (f"ResNet-{hi} test error < plain-{hi}",
                      ("arm", "res_hi", "test_error"), ("arm", "plain_hi", "test_error")),
                     (f"ResNet-{hi} test error < ResNet-{lo}",
                      ("arm", "res_hi", "test_error"), ("arm", "res_lo", "test_error")),
                 ])
    arms = [Arm(o, OPTIMIZERS[o][0], resnet(base), opt=o, lr=None) for o in OPTIMIZERS]
    c[2] = Claim(2, "SGD+momentum generalises better than adaptive methods",
                 "With each optimiser's learning rate tuned on held-out data, SGD with momentum "
                 "reaches a lower test error than RMSProp, AdaGrad, AdaDelta and Adam (which may "
                 "train as fast or faster).",
                 "Wilson, Roelofs, Stern, Srebro, Recht, The Marginal Value of Adaptive Gradient "
                 "Methods in Machine Learning, NeurIPS 2017 (arXiv:1705.08292), Fig. 1 and Table 2",
                 f"ResNet-{base}; each optimiser's base_lr chosen from its grid by the validation "
                 f"error of one seed ({GRID_SEED}) on held-out training images, then trained with "
                 "the arms' seeds; same cosine schedule and weight decay for all", arms,
                 [(f"SGD+momentum test error < {OPTIMIZERS[o][0]}", ("arm", "sgd", "test_error"),
                   ("arm", o, "test_error")) for o in OPTIMIZERS if o != "sgd"])
    arms = [Arm("bn_before", f"ResNet-{base}, BN before add (standard)", resnet(base)),
            Arm("bn_after", f"ResNet-{base}, BN after add", bn_after_add(base))]
    c[3] = Claim(3, "BN before the addition beats BN after it",
                 "Moving the residual branch's last BatchNorm after the addition (normalising the "
                 "shortcut too) gives a higher test error than the standard unit.",
                 "Gross & Wilber, Training and investigating Residual Nets, Facebook AI Research "
                 "blog, February 2016 (fb.resnet.torch)",
                 f"ResNet-{base}, option B; SGD+momentum, lr {DEFAULT_LR}", arms, [
                     ("BN before add test error < BN after add",
                      ("arm", "bn_before", "test_error"), ("arm", "bn_after", "test_error")),
                 ])
    arms = [Arm("post_lo", f"ResNet-{lo} post-act", resnet(lo)),
            Arm("pre_lo", f"ResNet-{lo} pre-act", preact(lo)),
            Arm("post_hi", f"ResNet-{hi} post-act", resnet(hi)),
            Arm("pre_hi", f"ResNet-{hi} pre-act", preact(hi))]
    c[4] = Claim(4, "Pre-activation helps, more so when deeper",
                 f"The pre-activation unit gives a lower test error than the original at depth "
                 f"{hi}, and its advantage (post - pre test error) is larger at depth {hi} than "
                 f"at depth {lo}.",
                 "He, Zhang, Ren, Sun, Identity Mappings in Deep Residual Networks, ECCV 2016 "
                 "(arXiv:1603.05027), Table 3 and Fig. 6",
                 f"depths {lo} and {hi}; option B; SGD+momentum, lr {DEFAULT_LR}", arms, [
                     (f"ResNet-{hi} pre-act test error < post-act",
                      ("arm", "pre_hi", "test_error"), ("arm", "post_hi", "test_error")),
                     (f"gap (post - pre test error) at {lo} < gap at {hi}",
                      ("diff", "post_lo", "pre_lo", "test_error"), ("diff", "post_hi", "pre_hi", "test_error")),
                 ])
    if q:  # similar parameter counts, one-tenth of the full pair's work
        wide, thin, wlabel, tlabel = (lambda p=0.0: wrn(10, 2, p)), (lambda p=0.0: preact(20, p)), \
            "WRN-10-2", "ResNet-20 pre-act (thin)"
    else:  # the thin arm is claim 4's pre-act ResNet-56 (a shared run); WRN-16-4 against a
        # 176-layer twin was 8 runs of ~2.2 h each (2.4x this pair's work), too long on 2 cores
        wide, thin, wlabel, tlabel = (lambda p=0.0: wrn(16, 2, p)), (lambda p=0.0: preact(56, p)), \
            "WRN-16-2", "ResNet-56 pre-act (thin)"
    arms = [Arm("wide", wlabel, wide()), Arm("wide_do", wlabel + " + dropout 0.3", wide(0.3)),
            Arm("thin", tlabel, thin()), Arm("thin_do", tlabel + " + dropout 0.3", thin(0.3))]
    c[5] = Claim(5, "Wide beats deep at a similar parameter count",
                 f"A wide, shallow net ({wlabel}) reaches a lower test error than a thin, deep one "
                 f"({tlabel}) with as many or more parameters, in less wall time; dropout "
                 "between the convolutions lowers the wide net's test error further.",
                 "Zagoruyko & Komodakis, Wide Residual Networks, BMVC 2016 (arXiv:1605.07146), "
                 "Tables 4-6",
                 "pre-activation units, projection shortcuts where the shape changes; dropout 0.3 "
                 f"between a unit's convolutions; SGD+momentum, lr {DEFAULT_LR}", arms, [
                     (f"{wlabel} test error < {tlabel}", ("arm", "wide", "test_error"), ("arm", "thin", "test_error")),
                     (f"{wlabel} wall time < {tlabel}", ("arm", "wide", "wall_s"), ("arm", "thin", "wall_s")),
                     (f"{wlabel} + dropout test error < {wlabel}",
                      ("arm", "wide_do", "test_error"), ("arm", "wide", "test_error")),
                 ])
    return c


# ----------------------------------------------------------------------------------------------
# Runs: one `crema train` each
# ----------------------------------------------------------------------------------------------
class Run:
    """kind "arm" (claim, arm, seed: tests on the test set and a training slice) or "grid"
    (claim 2's lr search: one seed, tested on the validation slice)."""

    def __init__(self, kind, claim, arm, seed, opt, lr, iterations, test_passes, train_images, tests):
        self.kind, self.claim, self.arm, self.seed = kind, claim, arm, seed
        self.opt, self.lr, self.iterations, self.train_images, self.tests = opt, lr, iterations, train_images, tests
        self.test_interval = max(1, -(-iterations // test_passes))
        self.result = None

    def identity(self):
        """Runs with equal identities are the same training."""
        return (self.arm.arch.key, self.train_images, self.opt, self.lr, self.seed, self.iterations,
                self.test_interval, tuple(self.tests))

    @property
    def name(self):
        if self.kind == "grid":
            return f"claim{self.claim.id}_grid/{self.opt}_lr{self.lr:g}"
        return f"claim{self.claim.id}/{self.arm.key}_seed{self.seed}"

    def describe(self):
        lr = "grid" if self.lr is None else f"{self.lr:g}"
        return (f"{self.name:38s} {self.arm.arch.label:34s} {OPTIMIZERS[self.opt][0]:13s} lr {lr:7s} "
                f"{self.iterations} it, seed {self.seed}")


def build_runs(mode, claims, seeds, iterations=None):
    m = MODES[mode]
    its = iterations or m.iterations
    grid_its = iterations or m.grid_iterations
    tests = [("test", m.test_images), ("trainset", m.traineval_images)]
    grid, arms = [], []
    for c in claims:
        for arm in c.arms:
            if arm.lr is None:
                for lr in OPTIMIZERS[arm.opt][3][mode]:
                    grid.append(Run("grid", c, arm, GRID_SEED, arm.opt, lr, grid_its, m.grid_test_passes,
                                    m.grid_train_images, [("val", m.val_images)]))
            for s in range(1, seeds + 1):
                arms.append(Run("arm", c, arm, s, arm.opt, arm.lr, its, m.test_passes, m.train_images, tests))
    return grid, arms


# ----------------------------------------------------------------------------------------------
# Files crema reads
# ----------------------------------------------------------------------------------------------
def _open_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")
    raise SystemExit(f"run_experiments: {stem}[.gz] not found in {directory}")


def write_val_split(data_dir, out_dir, n):
    """The last n training images and labels as idx files val-images-idx3-ubyte and
    val-labels-idx1-ubyte (MNISTData split "val"). The runs train on the first images only, so
    these are held out as long as train images + n <= 60,000."""
    img_path = os.path.join(out_dir, "val-images-idx3-ubyte")
    lab_path = os.path.join(out_dir, "val-labels-idx1-ubyte")
    if os.path.exists(img_path) and os.path.exists(lab_path):
        with open(lab_path, "rb") as f:
            if int.from_bytes(f.read(8)[4:8], "big") == n:
                return
    os.makedirs(out_dir, exist_ok=True)
    with _open_idx(data_dir, "train-images-idx3-ubyte") as f:
        head = f.read(16)
        count, rows, cols = (int.from_bytes(head[i:i + 4], "big") for i in (4, 8, 12))
        size = rows * cols
        f.seek(16 + (count - n) * size)  # a GzipFile seeks forward by decompressing
        images = f.read(n * size)
    with _open_idx(data_dir, "train-labels-idx1-ubyte") as f:
        f.seek(8 + count - n)
        labels = f.read(n)
    if len(images) != n * size or len(labels) != n:
        raise SystemExit("run_experiments: short read making the validation split")
    with open(img_path + ".tmp", "wb") as f:
        f.write(head[:4] + n.to_bytes(4, "big") + head[8:16] + images)
    with open(lab_path + ".tmp", "wb") as f:
        f.write((2049).to_bytes(4, "big") + n.to_bytes(4, "big") + labels)
    os.replace(img_path + ".tmp", img_path)
    os.replace(lab_path + ".tmp", lab_path)


def net_text(arch, m, train_images, val_dir, fashion_dir=DATA):
    """netgen's Fashion-MNIST net for arch, with its data layers rewritten: TRAIN reads the first
    train_images images; three TEST data layers, one per test-net stage: "test" (the test set,
    first m.test_images), "val" (split "val" in val_dir) and "trainset" (the first
    m.traineval_images training images, no mirroring: the training error in TEST mode)."""
    argv = ["--dataset", "fashion_mnist", "--batch", str(m.batch), "--test-batch", str(m.test_batch),
            "--bn-maf", str(m.bn_maf), "--source", fashion_dir, "--max-images", str(train_images)] + arch.flags
    p = netgen.parser()
    a = p.parse_args(argv)
    netgen.finish_args(a, p)
    net = netgen.build(a)
    data = [ly for ly in net.layers if ("type", "MNISTData") in ly]
    test_layers = [ly for ly in data if ("include", [("phase", netgen.Enum("TEST"))]) in ly]
    if len(data) != 2 or len(test_layers) != 1:
        raise SystemExit("run_experiments: netgen's data layers are not the expected TRAIN + TEST pair")
    test = test_layers[0]
    i = net.layers.index(test)

    def variant(stage, source, split, n):
        out = []
        for k, v in test:
            if k == "include":
                v = [("phase", netgen.Enum("TEST")), ("stage", stage)]
            elif k == "mnist_data_param":
                new = {"source": source, "split": split, "max_images": n}
                v = [(kk, new.pop(kk, vv)) for kk, vv in v] + list(new.items())
            out.append((k, v))
        return out

    net.layers[i:i + 1] = [variant("test", fashion_dir, "test", m.test_images),
                           variant("val", val_dir, "val", m.val_images),
                           variant("trainset", fashion_dir, "train", m.traineval_images)]
    header = ["Generated by tools/experiments/run_experiments.py from tools/netgen/netgen.py:",
              "  " + " ".join(argv),
              "  TEST data layers by stage: test (test set), val (held-out training images),",
              "  trainset (the first training images: the training error in TEST mode)"]
    return net.text(header), argv


def solver_text(run, m, net_path, metrics_path, gpu=None):
    label, type_, fixed, _ = OPTIMIZERS[run.opt]
    f = [("net", net_path)]
    for stage, n in run.tests:
        f.append(("test_state", [("stage", stage)]))
    for stage, n in run.tests:
        f.append(("test_iter", -(-n // m.test_batch)))
    f += [("test_interval", run.test_interval),
          ("test_initialization", False),
          ("base_lr", float(run.lr)),
          ("lr_policy", "cosine"),
          ("warmup_iter", min(m.warmup, run.iterations // 10)),
          ("warmup_start_factor", 0.1)]
    f += fixed
    f += [("weight_decay", 5e-4),
          ("type", type_),
          ("max_iter", run.iterations),
          ("display", m.display),
          ("average_loss", m.display),
          ("random_seed", run.seed),
          ("solver_mode", netgen.Enum("CPU" if gpu is None else "GPU")),
          *([] if gpu is None else [("device_id", gpu)]),
          ("snapshot_after_train", False),
          ("metrics_file", metrics_path)]
    head = [f"# {run.name}: {run.arm.arch.label}, {label} lr {run.lr:g}, seed {run.seed}",
            f"# {run.iterations} iterations of {m.batch} images from the first {run.train_images}"]
    return "\n".join(head + netgen.fmt_fields(f, 0)) + "\n"


def net_stats(crema, net_path):
    """(parameters, multiply-adds per image) from `crema summary`, or (None, None)."""
    try:
        out = subprocess.run([crema, "summary", "-model", net_path, "-phase", "TRAIN",
                              "-input_shape", "1,1,28,28", "-threads", "1"],
                             capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    text = out.stdout + out.stderr
    p = re.search(r"^Parameters:\s*([\d,]+)", text, re.M)
    mac = re.search(r"^Multiply-adds[^:]*:\s*([\d,]+)", text, re.M)
    return (int(p.group(1).replace(",", "")) if p else None,
            int(mac.group(1).replace(",", "")) if mac else None)


class Workspace:
    """The run directory: data/ (the validation split), nets/, runs/<run name>/."""

    def __init__(self, root, mode, crema, ledger=None, data=DATA, gpu=None):
        self.root, self.m, self.crema = os.path.abspath(root), MODES[mode], crema
        self.data, self.gpu = data, gpu  # Fashion-MNIST's folder; the GPU to train on, or None
        self.ledger = ledger  # <out>/finished: finished runs kept with the report, or None
        self.val_dir = os.path.join(self.root, "data")
        self.nets = {}
        self.stats = {}
        self.lock = threading.Lock()

    def net(self, arch, train_images):
        key = f"{arch.key}_tr{train_images}"
        with self.lock:
            if key not in self.nets:
                text, argv = net_text(arch, self.m, train_images, self.val_dir, self.data)
                path = os.path.join(self.root, "nets", key + ".prototxt")
                write_if_changed(path, text)
                self.nets[key] = (path, text, argv)
            return self.nets[key]

    def arch_stats(self, arch, train_images):
        path, _, _ = self.net(arch, train_images)
        if arch.key not in self.stats:
            self.stats[arch.key] = net_stats(self.crema, path) if self.crema else (None, None)
        return self.stats[arch.key]


def write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
def portable_fingerprint(solver, net_txt, run_dir, root):
    """The training a run is, whatever its name and wherever its run directory: the solver
    without its comment lines and both files with the paths taken out. The ledger matches on it
    across machines and across claims that share a run."""
    body = "\n".join(l for l in solver.splitlines() if not l.startswith("#")) + "\n" + net_txt
    body = body.replace(run_dir, "<this run>").replace(root, "<run dir>")
    return hashlib.sha256(body.encode()).hexdigest()


def ledger_path(ws, run):
    return os.path.join(ws.ledger, run.name.replace("/", "__") + ".json") if ws.ledger else None


def record_finished(ws, run, res):
    """Copies a finished run (result and metrics lines) into the ledger."""
    path = ledger_path(ws, run)
    if not path or res.get("status") not in ("ok", "diverged") or not os.path.exists(res["metrics_path"]):
        return
    with open(res["metrics_path"]) as f:
        lines = f.read().splitlines()
    entry = {k: v for k, v in res.items() if k != "reused"}
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
        if entry.get("portable_fingerprint") == portable and entry.get("status") in ("ok", "diverged"):
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
    net_path, net_txt, argv = ws.net(run.arm.arch, run.train_images)
    d = os.path.join(ws.root, "runs", run.name)
    os.makedirs(d, exist_ok=True)
    metrics_path = os.path.join(d, "metrics.jsonl")
    solver = solver_text(run, m, net_path, metrics_path, ws.gpu)
    solver_path = os.path.join(d, "solver.prototxt")
    write_if_changed(solver_path, solver)
    fingerprint = hashlib.sha256((solver + net_txt).encode()).hexdigest()
    portable = portable_fingerprint(solver, net_txt, d, ws.root)
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
            proc = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=errf, text=True, timeout=timeout)
            stdout, rc = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as e:  # the child is killed; its output may be bytes
            out = e.stdout or ""
            stdout, rc, status = out.decode(errors="replace") if isinstance(out, bytes) else out, None, "timeout"
    wall = time.monotonic() - t0
    with open(os.path.join(d, "train.log")) as f:
        tail = f.read()[-4000:]
    if status == "ok" and rc != 0:
        status = "diverged" if re.search(r"loss is [-+]?(nan|inf)", tail, re.I) else "failed"
    res = {"run": run.name, "kind": run.kind, "claim": run.claim.id, "arm": run.arm.key, "seed": run.seed,
           "opt": run.opt, "lr": run.lr, "iterations": run.iterations, "batch": m.batch,
           "train_images": run.train_images, "tests": [s for s, _ in run.tests],
           "test_images": {s: n for s, n in run.tests}, "test_interval": run.test_interval,
           "threads": threads, "device": "CPU" if ws.gpu is None else f"GPU {ws.gpu}", "status": status, "returncode": rc, "wall_s": round(wall, 2),
           "cmd": " ".join(cmd), "netgen": " ".join(argv), "fingerprint": fingerprint,
           "portable_fingerprint": portable,
           "metrics_path": metrics_path, "stdout": (stdout or "")[-2000:]}
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
            print(f"[{counter[0]}/{counter[1]}] {run.name}: {res['status']}{extra} "
                  f"({res['wall_s']:.0f} s{', reused' if res.get('reused') else ''})", file=sys.stderr, flush=True)

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
                out[{"test": "test_loss", "trainset": "trainset_eval_loss", "val": "val_loss"}[stage]] = lossfin[1]
    if res["status"] != "ok":  # a diverged, failed or killed run has no final score
        for key in ("test_error", "train_error", "val_error"):
            out[key] = None
    out["curves"] = curves
    return out


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------
def cost_macs(macs, iterations, batch, test_interval, tests, test_batch):
    """Forward-equivalent multiply-adds of one run: training images x 3 plus the test passes."""
    if not macs:
        return None
    passes = -(-iterations // test_interval)
    evals = passes * sum(-(-n // test_batch) * test_batch for _, n in tests)
    return macs * (TRAIN_COST * iterations * batch + evals)


def collect(claim, grid_runs, arm_runs, ws, out_dir, mode):
    m = MODES[mode]
    cres = {"id": claim.id, "title": claim.title, "expectation": claim.expectation,
            "reference": claim.reference, "setup": claim.setup, "arms": [], "checks": [], "grid": []}
    metrics_dir = os.path.join(out_dir, "metrics")
    for r in grid_runs:
        s = run_summary(r.result)
        dst = os.path.join(metrics_dir, r.name + ".jsonl")
        copy_metrics(r.result["metrics_path"], dst)
        cres["grid"].append({"opt": r.opt, "label": OPTIMIZERS[r.opt][0], "lr": r.lr, "status": s["status"],
                             "val_error": s.get("val_error"), "train_loss": s.get("train_loss"),
                             "wall_s": s["wall_s"], "metrics": os.path.relpath(dst, out_dir)})
    for arm in claim.arms:
        params, macs = ws.arch_stats(arm.arch, m.train_images)
        runs = [r for r in arm_runs if r.arm is arm]
        entry = {"key": arm.key, "label": arm.label, "arch": arm.arch.label, "params": params,
                 "macs_per_image": macs, "opt": arm.opt, "opt_label": OPTIMIZERS[arm.opt][0],
                 "lr": runs[0].lr if runs else arm.lr, "runs": []}
        if arm.lr is None:
            g = [x for x in cres["grid"] if x["opt"] == arm.opt]
            entry["grid_lrs"] = [x["lr"] for x in g]
            entry["lr_at_edge"] = em.choose_lr(g)[1]
        for r in runs:
            s = run_summary(r.result)
            dst = os.path.join(metrics_dir, r.name + ".jsonl")
            copy_metrics(r.result["metrics_path"], dst)
            s["metrics"] = os.path.relpath(dst, out_dir)
            s["cost_macs"] = cost_macs(macs, r.iterations, m.batch, r.test_interval, r.tests, m.test_batch)
            s["threads"] = r.result["threads"]
            if s["status"] == "failed":
                s["log_tail"] = r.result.get("log_tail", "")
            entry["runs"].append(s)
        entry["stats"] = {k: em.summarize([x.get(k) for x in entry["runs"]])
                          for k in ("test_error", "train_error", "train_loss", "wall_s", "images_per_s")}
        cres["arms"].append(entry)
    by_key = {a["key"]: a for a in cres["arms"]}

    def side(expr):
        if expr[0] == "arm":
            return {x["seed"]: x.get(expr[2]) for x in by_key[expr[1]]["runs"]}
        _, x, y, metric = expr
        return em.paired_difference({r["seed"]: r.get(metric) for r in by_key[x]["runs"]},
                                    {r["seed"]: r.get(metric) for r in by_key[y]["runs"]})

    for text, a, b in claim.checks:
        va, vb = side(a), side(b)
        outcome = em.check_order(list(va.values()), list(vb.values()))
        cres["checks"].append({"text": text, "metric": a[-1], "outcome": outcome,
                               "a": em.summarize(list(va.values())), "b": em.summarize(list(vb.values()))})
    cres["verdict"] = em.claim_verdict([c["outcome"] for c in cres["checks"]])
    return cres


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
    missing = [c for cid, c in sorted(claims_for("full").items()) if str(cid) not in results["claims"]]
    if not missing:
        return
    done = {int(cid) for cid in results["claims"]}
    est = (full_estimate(Workspace(os.path.join(run_dir, "full_plan"), "full", crema), rate, done)
           if rate and crema else {})
    results["not_run"] = {str(c.id): {"title": c.title, "runs": est.get(str(c.id), {}).get("runs"),
                                      "hours": est.get(str(c.id), {}).get("hours")} for c in missing}


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


# ----------------------------------------------------------------------------------------------
# Plots and report
# ----------------------------------------------------------------------------------------------
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
        for key, title, ylabel in (("loss", "training loss (smoothed)", "loss"),
                                   ("train_error", "training error (TEST mode, training slice)", "error"),
                                   ("test_error", "test error", "error")):
            series = []
            for i, a in enumerate(c["arms"]):
                curves = [r["curves"].get(key, []) for r in a["runs"] if r.get("curves", {}).get(key)]
                for cv in curves:
                    series.append({"x": [p[0] for p in cv], "y": [p[1] for p in cv], "faint": True, "color": i})
                xs, ys = mean_curve(curves)
                series.append({"label": a["label"], "x": xs, "y": ys, "color": i, "marker": key != "loss"})
            panels.append({"title": title, "xlabel": "iteration", "ylabel": ylabel, "series": series,
                           "logy": False})
        figs.append({"path": os.path.join(out_dir, f"claim{cid}.png"),
                     "title": f"Claim {cid}: {c['title']} ({results['mode']} mode; thin lines: seeds)",
                     "panels": panels})
        if c.get("grid"):
            series = []
            for i, opt in enumerate(OPTIMIZERS):
                g = sorted((x for x in c["grid"] if x["opt"] == opt), key=lambda x: x["lr"])
                pts = [(x["lr"], x["val_error"] if x["val_error"] is not None else 1.0) for x in g]
                series.append({"label": OPTIMIZERS[opt][0], "x": [p[0] for p in pts],
                               "y": [p[1] for p in pts], "color": i, "marker": True})
            figs.append({"path": os.path.join(out_dir, f"claim{cid}_grid.png"),
                         "title": f"Claim {cid}: learning-rate grid (validation error, seed {GRID_SEED})",
                         "panels": [{"title": "validation error at the end of the grid run",
                                     "xlabel": "base_lr", "ylabel": "error", "logx": True,
                                     "series": series}]})
    return {"figures": figs}


def make_plots(spec, run_dir):
    """Renders spec; returns (backend or None, note)."""
    spec_path = os.path.join(run_dir, "plots.json")
    os.makedirs(run_dir, exist_ok=True)
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    script = os.path.join(HERE, "plots.py")
    candidates = [sys.executable]
    if os.path.exists("/usr/bin/python3") and os.path.realpath("/usr/bin/python3") != os.path.realpath(sys.executable):
        candidates.append("/usr/bin/python3")
    for py in candidates:
        probe = subprocess.run([py, "-c", "import matplotlib"], capture_output=True)
        if probe.returncode == 0:
            r = subprocess.run([py, script, spec_path, "--backend", "matplotlib"], capture_output=True, text=True)
            if r.returncode == 0:
                return "matplotlib", f"plots drawn with matplotlib ({py})"
            return None, "matplotlib failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    if shutil.which("gnuplot"):
        r = subprocess.run([sys.executable, script, spec_path, "--backend", "gnuplot"], capture_output=True, text=True)
        if r.returncode == 0:
            return "gnuplot", "plots drawn with gnuplot"
        return None, "gnuplot failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None, ("plots skipped: neither matplotlib (pip, or Debian's python3-matplotlib for "
                  "/usr/bin/python3) nor gnuplot is installed; the curves are in results.json and "
                  "the metrics files")


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
    return (f"`-threads {results['threads']}`" if gpu is None
            else f"GPU {gpu} (`-gpu {gpu}`, `-threads {results['threads']}` for the host's work)")


def write_report(results, out_dir, plot_note):
    mode = results["mode"]
    b = results["budget"]
    L = []
    L.append(f"# ResNet findings on Fashion-MNIST: {mode} mode")
    L.append("")
    L.append(f"Written by `tools/experiments/run_experiments.py` ({results['command']}) on "
             f"{results['finished']}; `crema` {results['crema']}, {where(results)}, "
             f"{results['jobs']} run(s) at a time. How to run it and what each claim is: "
             f"[docs/EXPERIMENTS.md]({os.path.relpath(os.path.join(REPO, 'docs', 'EXPERIMENTS.md'), out_dir)}).")
    L.append("")
    if mode == "quick":
        L.append("**Quick mode is a smoke test of the pipeline, not an experiment**: a slice of "
                 "the data, a few dozen iterations, shallow nets. Its verdicts say nothing about "
                 "the claims; the full mode's do.")
        L.append("")
    L.append(f"Budget of every arm: {b['iterations']} iterations of batch {b['batch']} from the first "
             f"{b['train_images']:,} training images (cosine learning rate, {b['warmup']} warm-up "
             f"iterations, weight decay 5e-4), seeds {', '.join(str(s) for s in b['seeds'])} "
             f"(`random_seed`). Test error: the first {b['test_images']:,} test images; training "
             f"error: the first {b['traineval_images']:,} training images, in TEST mode (BN "
             f"running statistics, no dropout); both at the end of the run, {b['test_passes']} "
             f"test passes in all. Training loss: the solver's smoothed loss (mean over the last "
             f"{b['display']} iterations) at the last display. Claim 2's grid runs train "
             f"{b['grid_iterations']} iterations on the first {b['grid_train_images']:,} images "
             f"and are scored on the last {b['val_images']:,} training images (held out).")
    L.append("")
    L.append("**Rule.** Each claim is a list of checks \"A < B\" (errors, losses, wall times) over "
             "the seeds. A check *holds* when the largest A is below the smallest B (the expected "
             "order beyond the spread: the ranges over the seeds do not overlap), is *ordered "
             "within spread* when only the means are in order, *reversed within spread* when the "
             "means are not, and is *contradicted* when the smallest A is above the largest B. "
             "Reproduced at this scale: **yes** when every check holds, **no** when any is "
             "contradicted, else **inconclusive**. Figures are mean ± spread over the seeds, the "
             "spread being half the range (max - min) / 2.")
    L.append("")
    L.append("## Summary")
    L.append("")
    L.append("| # | claim | checks that hold | reproduced at this scale? |")
    L.append("|---|---|---|---|")
    for cid in sorted(results["claims"], key=int):
        c = results["claims"][cid]
        n_hold = sum(1 for k in c["checks"] if k["outcome"] == em.HOLDS)
        L.append(f"| {cid} | {c['title']} | {n_hold} of {len(c['checks'])} | **{c['verdict']}** |")
    not_run = results.get("not_run", {})
    for cid in sorted(not_run, key=int):
        L.append(f"| {cid} | {not_run[cid]['title']} | — | not run yet |")
    L.append("")
    if not_run:
        parts = []
        for cid in sorted(not_run, key=int):
            nr = not_run[cid]
            cost = (f"{nr['runs']} runs not shared with a finished claim, about {nr['hours']:.1f} h "
                    f"of training one run at a time at the throughput measured here"
                    if nr.get("hours") else "cost unknown")
            parts.append(f"claim {cid} ({cost})")
        L.append("Not run yet in this mode: " + "; ".join(parts) + ". `--claims` runs them; the "
                 "finished/ ledger keeps every finished run, so an interrupted invocation resumes.")
        L.append("")
    L.append("## Results")
    L.append("")
    L.append("| claim | arm | params | optimiser, lr | test error % | train error % | train loss | "
             "images/s | wall per run | reproduced? |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for cid in sorted(results["claims"], key=int):
        c = results["claims"][cid]
        for i, a in enumerate(c["arms"]):
            st = a["stats"]
            bad = [f"seed {r['seed']} {r['status']}" for r in a["runs"] if r["status"] != "ok"]
            lr = "?" if a["lr"] is None else f"{a['lr']:g}"
            if a.get("grid_lrs"):
                lr += " (grid " + ", ".join(f"{x:g}" for x in a["grid_lrs"]) + (", at the edge" if a.get("lr_at_edge") else "") + ")"
            params = f"{a['params'] / 1e6:.3f} M" if a.get("params") else "?"
            ips = f"{st['images_per_s']['mean']:.0f}" if st.get("images_per_s") else "n/a"
            wall = em.fmt_stat(st["wall_s"], 1, 0, " s") if st.get("wall_s") else "n/a"
            L.append(f"| {f'{cid}. ' + c['title'] if i == 0 else ''} | {a['label']}"
                     f"{' (' + '; '.join(bad) + ')' if bad else ''} | {params} | {a['opt_label']}, {lr} | "
                     f"{pct(st['test_error'])} | {pct(st['train_error'])} | "
                     f"{em.fmt_stat(st['train_loss'], 1, 3)} | {ips} | {wall} | "
                     f"{'**' + c['verdict'] + '**' if i == 0 else ''} |")
    L.append("")
    for cid in sorted(results["claims"], key=int):
        c = results["claims"][cid]
        L.append(f"## Claim {cid}: {c['title']}")
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
            L.append(f"| {k['text']} | {fmt(k['a'])}{unit if k['a'] else ''} | {fmt(k['b'])}{unit if k['b'] else ''} | {k['outcome']} |")
        L.append("")
        L.append(f"Reproduced at this scale: **{c['verdict']}**.")
        L.append("")
        if c.get("grid"):
            L.append("Learning-rate grid (one run each, seed "
                     f"{GRID_SEED}, scored on the held-out validation images; the chosen lr in bold):")
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
    L.append("## Wall time")
    L.append("")
    reuse = (f"{results['n_reused']} of them were reused from an earlier invocation in the run "
             "directory; " if results["n_reused"] else "")
    L.append(f"Latest invocation (claims {results.get('claims_run', '?')}): {results['n_runs']} runs "
             f"({results['n_shared']} more arms shared a run with another claim), "
             f"{fmt_dur(results['runs_wall_s'])} of training in all (the sum of their wall "
             f"times); {reuse}the invocation itself took {fmt_dur(results['wall_s'])}. Measured throughput: "
             f"{results['rate_gmacs']:.1f} G forward-equivalent multiply-adds/s "
             f"(training image = {TRAIN_COST:g} forwards; all of each run's work over its wall "
             f"time, start-up and test passes included) at {where(results)}."
             if results.get("rate_gmacs") else "No throughput measured.")
    L.append("")
    est = results.get("full_estimate")
    if est:
        L.append(f"Expected full-mode wall time at that rate, i.e. with {where(results)} "
                 f"({MODES['full'].seeds} seeds, {MODES['full'].iterations} iterations of batch "
                 f"{MODES['full'].batch} per arm, one run at a time; docs/EXPERIMENTS.md has the "
                 "estimate for 2 threads):")
        L.append("")
        L.append("| claims | runs | estimate |")
        L.append("|---|---|---|")
        for cid in sorted((k for k in est if k != "all"), key=int):
            e = est[cid]
            L.append(f"| {cid} alone | {e['runs']} | {fmt_h(e['hours'])} |")
        e = est["all"]
        L.append(f"| all five (shared runs once) | {e['runs']} | {fmt_h(e['hours'])} |")
        L.append("")
        L.append("The rate is one figure for every net: thin deep nets (16 channels) use the cores "
                 "less well than wide ones, so claims 1, 4 and 5's thin nets may take longer; "
                 "the machine's other load at the time also counts.")
        L.append("")
    L.append("## Files")
    L.append("")
    L.append("`results.json` (every number above, the curves, the commands), `metrics/claim<N>/<arm>_seed<S>.jsonl` "
             "(the raw crema metrics files: training displays, and test passes: `test_net` 0 = the test set, "
             "1 = the training slice; claim 2's grid runs: `test_net` 0 = the validation images), "
             f"`claim<N>.png`. {plot_note[0].upper() + plot_note[1:]}.")
    L.append("")
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(L))


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------
def render(results, mode, out_dir, run_dir, crema, rate, t_start=None):
    """The plots, results.json and report.md from `results` (a full run's also list the claims not run)."""
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


def refuse_other_device(results_path, mode, gpu):
    """Results merge across invocations: refuse, before training anything, to merge runs on the
    GPU into a report of CPU runs or the other way round."""
    try:
        with open(results_path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return
    if old.get("mode") == mode and old.get("claims") and old.get("gpu") != gpu:
        raise SystemExit(f"run_experiments: {results_path} holds runs on "
                         f"{'the CPU' if old.get('gpu') is None else 'GPU %s' % old['gpu']}; "
                         "give these runs their own --out (and --run-dir)")


def parse_claims(s):
    try:
        ids = sorted({int(x) for x in s.split(",") if x.strip()})
    except ValueError:
        raise SystemExit(f"--claims: a comma-separated list of 1-5, not {s!r}")
    if not ids or any(i not in range(1, 6) for i in ids):
        raise SystemExit(f"--claims: a comma-separated list of 1-5, not {s!r}")
    return ids


def find_crema(arg):
    for c in ([arg] if arg else []) + [os.path.join(REPO, "build", "bin", "crema"), shutil.which("crema")]:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


def print_plan(mode, claims, grid, arms, m, ws, rate, threads, jobs):
    seeds = max([r.seed for r in arms] or [0])
    print(f"mode {mode}: {len(grid)} grid runs + {len(arms)} arm runs; each arm {arms[0].iterations if arms else '-'} "
          f"iterations of batch {m.batch} from the first {m.train_images} training images; "
          f"seeds 1..{seeds}; -threads {threads}, {jobs} at a time")
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
        print(f"\nestimated wall time: {total / 3600:.1f} h at {rate / 1e9:.1f} G forward-equivalent MACs/s"
              f"{' (some nets unknown)' if unknown else ''}, one run at a time (divide by --jobs roughly only "
              "when the cores are free)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the smoke-test budget (default: full)")
    ap.add_argument("--claims", default="1,2,3,4,5", help="comma-separated subset of 1-5 (default: all)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and the time estimate; train nothing")
    ap.add_argument("--out", help="output directory (default: docs/experiments/<mode>/)")
    ap.add_argument("--run-dir", help="generated files and crema's outputs (default: build/experiments/<mode>/)")
    ap.add_argument("--crema", help="the crema binary (default: build/bin/crema, else PATH)")
    ap.add_argument("--threads", type=int, help="crema -threads per run (default: quick 1, full the cores / --jobs)")
    ap.add_argument("--gpu", type=int, metavar="N",
                    help="train on GPU N (solver_mode GPU, crema train -gpu N); give it its own --out and "
                         "--run-dir, since the runs are new runs, not the CPU's")
    ap.add_argument("--data", default=DATA, help=f"Fashion-MNIST's idx files (default {DATA})")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    ap.add_argument("--seeds", type=int, help="seeds per arm, random_seed 1..N (default 2)")
    ap.add_argument("--iterations", type=int, help="override every run's iterations (grid runs too)")
    ap.add_argument("--timeout", type=float, help="seconds per run before it is killed (default: none)")
    ap.add_argument("--rerun", action="store_true", help="train again runs that finished in the run directory")
    ap.add_argument("--report-only", action="store_true",
                    help="render report.md and the plots again from the output directory's results.json; "
                         "train nothing")
    ap.add_argument("--rate-gmacs", type=float,
                    help="for --dry-run's estimate: forward-equivalent G multiply-adds/s of one run "
                         "(default %g: 2 threads on the 2-core development machine)" % DEFAULT_RATE_GMACS)
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
    threads = a.threads if a.threads is not None else (m.threads or max(1, (os.cpu_count() or 1) // jobs))
    out_dir = os.path.abspath(a.out or os.path.join(REPO, "docs", "experiments", mode))
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
        raise SystemExit("run_experiments: crema not found (build it: cmake --build build; or --crema PATH)")
    data = os.path.abspath(a.data)
    if not os.path.isdir(data):
        raise SystemExit(f"run_experiments: Fashion-MNIST not found in {data}")
    if a.gpu is not None:
        q = subprocess.run([crema, "device_query"], capture_output=True, text=True)
        if q.returncode != 0:
            raise SystemExit(f"run_experiments: --gpu {a.gpu}: {(q.stdout + q.stderr).strip()}")
    if m.grid_train_images + m.val_images > FM_TRAIN_SIZE:
        raise SystemExit("run_experiments: the validation images overlap the grid's training images")
    refuse_other_device(os.path.join(out_dir, "results.json"), mode, a.gpu)
    t_start = time.monotonic()
    ws = Workspace(run_dir, mode, crema, ledger=os.path.join(out_dir, "finished"), data=data, gpu=a.gpu)
    # Every generated net names the validation files (its "val" stage), read or not.
    write_val_split(data, ws.val_dir, m.val_images)
    os.makedirs(out_dir, exist_ok=True)
    print(f"run_experiments: {mode} mode, claims {','.join(map(str, claim_ids))}: {len(grid)} grid + "
          f"{len(arms)} arm runs, -threads {threads}, {jobs} at a time; run dir {run_dir}, output {out_dir}",
          file=sys.stderr, flush=True)
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
                    print(f"claim {c.id}: {arm.label}: lr {lr:g}{' (at the edge of the grid)' if edge else ''}",
                          file=sys.stderr, flush=True)
    run_all(arms, ws, threads, jobs, a.rerun, a.timeout, counter)

    # Results: merged with those of other claims already in out_dir (same mode), so claims can
    # be run one invocation at a time.
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
    for c in claims:
        results["claims"][str(c.id)] = collect(c, [r for r in grid if r.claim is c],
                                               [r for r in arms if r.claim is c], ws, out_dir, mode)
    all_runs = grid + arms
    unique = [r for r in all_runs if not r.result.get("shared_with")]
    reused = [r for r in unique if r.result.get("reused")]
    rate = measured_rate(results, threads)
    results.update({
        "mode": mode, "command": "run_experiments.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "finished": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "crema": os.path.relpath(crema, REPO),
        "threads": threads, "gpu": a.gpu, "jobs": jobs, "wall_s": time.monotonic() - t_start,
        "claims_run": ",".join(map(str, claim_ids)), "n_runs": len(unique), "n_reused": len(reused), "n_shared": len(all_runs) - len(unique),
        "runs_wall_s": sum(r.result["wall_s"] for r in unique),
        "rate_gmacs": rate / 1e9 if rate else None,
        "budget": {"iterations": a.iterations or m.iterations, "batch": m.batch, "train_images": m.train_images,
                   "test_images": m.test_images, "traineval_images": m.traineval_images,
                   "val_images": m.val_images, "grid_train_images": m.grid_train_images,
                   "grid_iterations": a.iterations or m.grid_iterations, "test_passes": m.test_passes,
                   "display": m.display, "warmup": m.warmup, "seeds": list(range(1, seeds + 1))},
    })
    if rate and mode == "quick":
        ws_full = Workspace(os.path.join(run_dir, "full_plan"), "full", crema)
        results["full_estimate"] = full_estimate(ws_full, rate)
    elif mode == "full":
        results.pop("full_estimate", None)
    render(results, mode, out_dir, run_dir, crema, rate, t_start)
    for cid in sorted(results["claims"], key=int):
        print(f"claim {cid}: {results['claims'][cid]['title']}: reproduced at this scale? "
              f"{results['claims'][cid]['verdict']}")
    failed = [r.name for r in all_runs if r.result["status"] == "failed"]
    if failed:
        print("run_experiments: failed runs: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
