# SPDX-License-Identifier: BSD-2-Clause
"""What the experiments train: the budgets of the two modes, the nets (netgen flags), the
optimisers, the five claims with their arms and checks, and the runs they make."""

DATA = "/usr/share/datasets/fashion-mnist"
FM_TRAIN_SIZE = 60000
GRID_SEED = 101  # the grid search's seed: none of the arms' seeds
# Forward + backward of a training image costs about 3 forward passes (the backward pass computes
# the gradients of the data and of the weights, each about one forward's multiply-adds).
TRAIN_COST = 3.0
# Effective multiply-add rate (forward-equivalent MACs per second, all of a run's work over its
# wall time) used by --dry-run when no measured run is at hand: ResNet-20 training at ~500 img/s
# with 2 threads on a 2-core x86-64 VM (batch 128; docs/EXPERIMENTS.md), 3 x 31.0 M MACs an
# image.
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
    "quick": Mode(
        name="quick",
        train_images=2000,
        grid_train_images=2000,
        val_images=1000,
        test_images=1000,
        traineval_images=500,
        batch=64,
        test_batch=100,
        iterations=60,
        test_passes=3,
        grid_iterations=40,
        grid_test_passes=1,
        display=5,
        warmup=5,
        seeds=2,
        threads=1,
        bn_maf=0.9,
    ),
    # The real budget: the net_defs/ schedule (6 epochs of 469 iterations at batch 128, cosine,
    # 200 warm-up iterations). The grid search trains on the first 50,000 images for 2 epochs
    # and scores the last 10,000 (never the test set).
    "full": Mode(
        name="full",
        train_images=60000,
        grid_train_images=50000,
        val_images=10000,
        test_images=10000,
        traineval_images=10000,
        batch=128,
        test_batch=100,
        iterations=2814,
        test_passes=6,
        grid_iterations=782,
        grid_test_passes=2,
        display=50,
        warmup=200,
        seeds=2,
        threads=0,
        bn_maf=0.99,
    ),
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
    a = Arch(
        f"resnet{d}_preact",
        f"ResNet-{d} pre-act",
        ["--depth", str(d), "--shortcut", "B", "--preact"],
    )
    return with_dropout(a, dropout)


def bn_after_add(d):
    return Arch(
        f"resnet{d}_bn_after_add",
        f"ResNet-{d} BN after add",
        ["--depth", str(d), "--shortcut", "B", "--bn-after-add"],
    )


def wrn(d, k, dropout=0.0):
    return with_dropout(
        Arch(
            f"wrn_{d}_{k}", f"WRN-{d}-{k}", ["--arch", "wrn", "--depth", str(d), "--width", str(k)]
        ),
        dropout,
    )


def with_dropout(a, p):
    if p:
        a.key += "_dropout"
        a.label += f" + dropout {p:g}"
        a.flags = a.flags + ["--dropout", str(p)]
    return a


# name: (label, crema type, fixed solver fields, lr grid {mode: [...]})
OPTIMIZERS = {
    "sgd": (
        "SGD+momentum",
        "SGD",
        [("momentum", 0.9)],
        {"quick": [0.03, 0.1], "full": [0.03, 0.1, 0.3]},
    ),
    "rmsprop": (
        "RMSProp",
        "RMSProp",
        [("rms_decay", 0.9), ("delta", 1e-8)],
        {"quick": [3e-4, 1e-3], "full": [3e-4, 1e-3, 3e-3, 1e-2]},
    ),
    "adagrad": (
        "AdaGrad",
        "AdaGrad",
        [("delta", 1e-8)],
        {"quick": [0.01, 0.03], "full": [0.01, 0.03, 0.1, 0.3]},
    ),
    "adadelta": (
        "AdaDelta",
        "AdaDelta",
        [("momentum", 0.95), ("delta", 1e-6)],
        {"quick": [0.3, 1.0], "full": [0.3, 1.0, 3.0, 10.0]},
    ),
    "adam": (
        "Adam",
        "Adam",
        [("momentum", 0.9), ("momentum2", 0.999), ("delta", 1e-8)],
        {"quick": [3e-4, 1e-3], "full": [3e-4, 1e-3, 3e-3, 1e-2]},
    ),
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
    arms = [
        Arm("plain_lo", f"plain-{lo}", plain(lo)),
        Arm("plain_hi", f"plain-{hi}", plain(hi)),
        Arm("res_lo", f"ResNet-{lo}", resnet(lo)),
        Arm("res_hi", f"ResNet-{hi}", resnet(hi)),
    ]
    c[1] = Claim(
        1,
        "Shortcuts make depth help",
        f"Without shortcuts the deeper net trains worse (plain-{hi} has a higher training "
        f"error than plain-{lo}: the degradation problem); with them depth helps (ResNet-{hi} "
        f"has a lower test error than ResNet-{lo} and than plain-{hi}).",
        "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016 "
        "(arXiv:1512.03385), Fig. 1, 4, 6 and Table 6",
        f"depths {lo} and {hi}; option B shortcuts; SGD+momentum, lr {DEFAULT_LR}",
        arms,
        [
            (
                f"plain-{lo} train error < plain-{hi} (degradation)",
                ("arm", "plain_lo", "train_error"),
                ("arm", "plain_hi", "train_error"),
            ),
            (
                f"ResNet-{hi} train error < plain-{hi}",
                ("arm", "res_hi", "train_error"),
                ("arm", "plain_hi", "train_error"),
            ),
            (
                f"ResNet-{hi} test error < plain-{hi}",
                ("arm", "res_hi", "test_error"),
                ("arm", "plain_hi", "test_error"),
            ),
            (
                f"ResNet-{hi} test error < ResNet-{lo}",
                ("arm", "res_hi", "test_error"),
                ("arm", "res_lo", "test_error"),
            ),
        ],
    )
    arms = [Arm(o, OPTIMIZERS[o][0], resnet(base), opt=o, lr=None) for o in OPTIMIZERS]
    c[2] = Claim(
        2,
        "SGD+momentum generalises better than adaptive methods",
        "With each optimiser's learning rate tuned on held-out data, SGD with momentum "
        "reaches a lower test error than RMSProp, AdaGrad, AdaDelta and Adam (which may "
        "train as fast or faster).",
        "Wilson, Roelofs, Stern, Srebro, Recht, The Marginal Value of Adaptive Gradient "
        "Methods in Machine Learning, NeurIPS 2017 (arXiv:1705.08292), Fig. 1 and Table 2",
        f"ResNet-{base}; each optimiser's base_lr chosen from its grid by the validation "
        f"error of one seed ({GRID_SEED}) on held-out training images, then trained with "
        "the arms' seeds; same cosine schedule and weight decay for all",
        arms,
        [
            (
                f"SGD+momentum test error < {OPTIMIZERS[o][0]}",
                ("arm", "sgd", "test_error"),
                ("arm", o, "test_error"),
            )
            for o in OPTIMIZERS
            if o != "sgd"
        ],
    )
    arms = [
        Arm("bn_before", f"ResNet-{base}, BN before add (standard)", resnet(base)),
        Arm("bn_after", f"ResNet-{base}, BN after add", bn_after_add(base)),
    ]
    c[3] = Claim(
        3,
        "BN before the addition beats BN after it",
        "Moving the residual branch's last BatchNorm after the addition (normalising the "
        "shortcut too) gives a higher test error than the standard unit.",
        "Gross & Wilber, Training and investigating Residual Nets, Facebook AI Research "
        "blog, February 2016 (fb.resnet.torch)",
        f"ResNet-{base}, option B; SGD+momentum, lr {DEFAULT_LR}",
        arms,
        [
            (
                "BN before add test error < BN after add",
                ("arm", "bn_before", "test_error"),
                ("arm", "bn_after", "test_error"),
            ),
        ],
    )
    arms = [
        Arm("post_lo", f"ResNet-{lo} post-act", resnet(lo)),
        Arm("pre_lo", f"ResNet-{lo} pre-act", preact(lo)),
        Arm("post_hi", f"ResNet-{hi} post-act", resnet(hi)),
        Arm("pre_hi", f"ResNet-{hi} pre-act", preact(hi)),
    ]
    c[4] = Claim(
        4,
        "Pre-activation helps, more so when deeper",
        f"The pre-activation unit gives a lower test error than the original at depth "
        f"{hi}, and its advantage (post - pre test error) is larger at depth {hi} than "
        f"at depth {lo}.",
        "He, Zhang, Ren, Sun, Identity Mappings in Deep Residual Networks, ECCV 2016 "
        "(arXiv:1603.05027), Table 3 and Fig. 6",
        f"depths {lo} and {hi}; option B; SGD+momentum, lr {DEFAULT_LR}",
        arms,
        [
            (
                f"ResNet-{hi} pre-act test error < post-act",
                ("arm", "pre_hi", "test_error"),
                ("arm", "post_hi", "test_error"),
            ),
            (
                f"gap (post - pre test error) at {lo} < gap at {hi}",
                ("diff", "post_lo", "pre_lo", "test_error"),
                ("diff", "post_hi", "pre_hi", "test_error"),
            ),
        ],
    )
    if q:  # similar parameter counts, one-tenth of the full pair's work
        wide, thin, wlabel, tlabel = (
            (lambda p=0.0: wrn(10, 2, p)),
            (lambda p=0.0: preact(20, p)),
            "WRN-10-2",
            "ResNet-20 pre-act (thin)",
        )
    else:  # the thin arm is claim 4's pre-act ResNet-56 (a shared run); WRN-16-4 against a
        # 176-layer twin was 8 runs of ~2.2 h each (2.4x this pair's work), too long on 2 cores
        wide, thin, wlabel, tlabel = (
            (lambda p=0.0: wrn(16, 2, p)),
            (lambda p=0.0: preact(56, p)),
            "WRN-16-2",
            "ResNet-56 pre-act (thin)",
        )
    arms = [
        Arm("wide", wlabel, wide()),
        Arm("wide_do", wlabel + " + dropout 0.3", wide(0.3)),
        Arm("thin", tlabel, thin()),
        Arm("thin_do", tlabel + " + dropout 0.3", thin(0.3)),
    ]
    c[5] = Claim(
        5,
        "Wide beats deep at a similar parameter count",
        f"A wide, shallow net ({wlabel}) reaches a lower test error than a thin, deep one "
        f"({tlabel}) with as many or more parameters, in less wall time; dropout "
        "between the convolutions lowers the wide net's test error further.",
        "Zagoruyko & Komodakis, Wide Residual Networks, BMVC 2016 (arXiv:1605.07146), Tables 4-6",
        "pre-activation units, projection shortcuts where the shape changes; dropout 0.3 "
        f"between a unit's convolutions; SGD+momentum, lr {DEFAULT_LR}",
        arms,
        [
            (
                f"{wlabel} test error < {tlabel}",
                ("arm", "wide", "test_error"),
                ("arm", "thin", "test_error"),
            ),
            (
                f"{wlabel} wall time < {tlabel}",
                ("arm", "wide", "wall_s"),
                ("arm", "thin", "wall_s"),
            ),
            (
                f"{wlabel} + dropout test error < {wlabel}",
                ("arm", "wide_do", "test_error"),
                ("arm", "wide", "test_error"),
            ),
        ],
    )
    return c


# ----------------------------------------------------------------------------------------------
# Runs: one `crema train` each
# ----------------------------------------------------------------------------------------------
class Run:
    """kind "arm" (claim, arm, seed: tests on the test set and a training slice) or "grid"
    (claim 2's lr search: one seed, tested on the validation slice)."""

    def __init__(
        self, kind, claim, arm, seed, opt, lr, iterations, test_passes, train_images, tests
    ):
        self.kind, self.claim, self.arm, self.seed = kind, claim, arm, seed
        self.opt, self.lr, self.iterations, self.train_images, self.tests = (
            opt,
            lr,
            iterations,
            train_images,
            tests,
        )
        self.test_interval = max(1, -(-iterations // test_passes))
        self.result = None

    def identity(self):
        """Runs with equal identities are the same training."""
        return (
            self.arm.arch.key,
            self.train_images,
            self.opt,
            self.lr,
            self.seed,
            self.iterations,
            self.test_interval,
            tuple(self.tests),
        )

    @property
    def name(self):
        if self.kind == "grid":
            return f"claim{self.claim.id}_grid/{self.opt}_lr{self.lr:g}"
        return f"claim{self.claim.id}/{self.arm.key}_seed{self.seed}"

    def describe(self):
        lr = "grid" if self.lr is None else f"{self.lr:g}"
        return (
            f"{self.name:38s} {self.arm.arch.label:34s} {OPTIMIZERS[self.opt][0]:13s} lr {lr:7s} "
            f"{self.iterations} it, seed {self.seed}"
        )


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
                    grid.append(
                        Run(
                            "grid",
                            c,
                            arm,
                            GRID_SEED,
                            arm.opt,
                            lr,
                            grid_its,
                            m.grid_test_passes,
                            m.grid_train_images,
                            [("val", m.val_images)],
                        )
                    )
            for s in range(1, seeds + 1):
                arms.append(
                    Run(
                        "arm", c, arm, s, arm.opt, arm.lr, its, m.test_passes, m.train_images, tests
                    )
                )
    return grid, arms
