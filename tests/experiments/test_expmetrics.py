#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Unit tests of tools/experiments on synthetic data: metrics parsing, statistics, the
"reproduced?" rule, the lr choice, and the files the runner writes for crema (nets, solvers,
the validation split), the collected results and the report. No crema, no training.

  python3 tests/experiments/test_expmetrics.py [-v]
"""

import contextlib
import gzip
import io
import json
import math
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools", "experiments"))
import expmetrics as em  # noqa: E402
import expplan  # noqa: E402
import expreport  # noqa: E402
import expresults  # noqa: E402
import exptrain  # noqa: E402
import expworkspace  # noqa: E402
import run_experiments  # noqa: E402


def metrics_lines(loss_end, acc_test, acc_train, iters=60, display=5, test_every=20):
    """A synthetic crema metrics file: displays with a loss falling to loss_end, test passes of
    test_net 0 (test set) and 1 (training slice) ending at the given accuracies."""
    lines = []
    for it in range(0, iters, display):
        if it and it % test_every == 0:
            f = it / iters
            lines.append(
                json.dumps({"iter": it, "test_net": 0, "loss": 1.0, "accuracy": acc_test * f})
            )
            lines.append(
                json.dumps({"iter": it, "test_net": 1, "loss": 1.0, "accuracy": acc_train * f})
            )
        loss = 2.3 + (loss_end - 2.3) * it / (iters - display)
        lines.append(
            json.dumps(
                {"iter": it, "lr": 0.1, "loss": loss, "images_per_s": 0 if it == 0 else 400 + it}
            )
        )
    lines.append(json.dumps({"iter": iters, "test_net": 0, "loss": 0.5, "accuracy": acc_test}))
    lines.append(json.dumps({"iter": iters, "test_net": 1, "loss": 0.4, "accuracy": acc_train}))
    return lines


class Parsing(unittest.TestCase):
    def test_records_by_kind(self):
        m = em.parse_metrics_lines(metrics_lines(0.5, 0.8, 0.85))
        self.assertEqual(len(m.train), 12)
        self.assertEqual(sorted(m.tests), [0, 1])
        self.assertEqual(m.final_test(0), (60, 0.8))
        self.assertEqual(m.final_test(1), (60, 0.85))
        self.assertAlmostEqual(m.final_train_loss(), 0.5)
        self.assertEqual(m.last_iter(), 60)
        self.assertEqual(m.bad_lines, 0)
        self.assertEqual([it for it, _ in m.error_curve(0)], [20, 40, 60])
        self.assertAlmostEqual(m.error_curve(0)[-1][1], 0.2)

    def test_cut_and_bad_lines_are_skipped(self):
        lines = [
            '{"iter":0,"lr":0.1,"loss":2.3,"images_per_s":0}',
            "",
            "  ",
            '{"iter":5,"lr":0.1,"loss":2.0,"images_per_s":300}',
            "not json",
            "[1, 2]",
            '{"lr":0.1,"loss":2.0}',
            '{"iter":7}',
            '{"iter":"x","loss":1}',
            '{"iter":10,"test_net":"a","accuracy":0.5}',
            '{"iter":10,"test_net":0,"accuracy":0.5}',
            '{"iter":10,"lr":0.1,"lo',
        ]
        m = em.parse_metrics_lines(lines)
        self.assertEqual(len(m.train), 2)
        self.assertEqual(m.final_test(0), (10, 0.5))
        self.assertEqual(m.bad_lines, 7)

    def test_final_test_skips_records_without_the_key(self):
        m = em.parse_metrics_lines(
            ['{"iter":10,"test_net":0,"accuracy":0.5}', '{"iter":20,"test_net":0,"loss":0.3}']
        )
        self.assertEqual(m.final_test(0), (10, 0.5))
        self.assertEqual(m.final_test(0, "loss"), (20, 0.3))
        self.assertIsNone(m.final_test(1))

    def test_median_throughput_ignores_zero_and_slow_outliers(self):
        m = em.parse_metrics_lines(
            [
                json.dumps({"iter": i, "loss": 1.0, "images_per_s": v})
                for i, v in enumerate([0, 500, 510, 90, 505])
            ]
        )
        self.assertEqual(m.median_images_per_s(), 502.5)
        self.assertIsNone(em.parse_metrics_lines([]).median_images_per_s())
        self.assertIsNone(em.parse_metrics_lines([]).final_train_loss())

    def test_parse_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(metrics_lines(0.4, 0.9, 0.95)) + "\n")
        try:
            self.assertEqual(em.parse_metrics(f.name).final_test(0), (60, 0.9))
        finally:
            os.remove(f.name)


class Statistics(unittest.TestCase):
    def test_summarize(self):
        s = em.summarize([0.1, 0.3])
        self.assertAlmostEqual(s["mean"], 0.2)
        self.assertAlmostEqual(s["spread"], 0.1)
        self.assertEqual((s["lo"], s["hi"], s["n"]), (0.1, 0.3, 2))
        s = em.summarize([0.5, None, float("nan"), float("inf")])
        self.assertEqual((s["n"], s["mean"], s["spread"], s["std"]), (1, 0.5, 0.0, 0.0))
        self.assertIsNone(em.summarize([None, float("nan")]))
        self.assertEqual(em.fmt_stat(em.summarize([0.1, 0.3]), 100, 1), "20.0 ± 10.0")
        self.assertEqual(em.fmt_stat(None), "n/a")

    def test_paired_difference(self):
        d = em.paired_difference({1: 0.3, 2: 0.4, 3: None}, {1: 0.1, 2: 0.1, 3: 0.2, 4: 0.0})
        self.assertEqual(set(d), {1, 2})
        self.assertAlmostEqual(d[1], 0.2)
        self.assertAlmostEqual(d[2], 0.3)


class Rule(unittest.TestCase):
    def test_outcomes(self):
        self.assertEqual(em.check_order([0.10, 0.12], [0.13, 0.20]), em.HOLDS)
        self.assertEqual(em.check_order([0.10, 0.14], [0.13, 0.20]), em.WITHIN)
        self.assertEqual(em.check_order([0.10, 0.20], [0.12, 0.13]), em.REVERSED)
        self.assertEqual(em.check_order([0.13, 0.20], [0.10, 0.12]), em.CONTRADICTED)
        # Touching ranges are not beyond the spread.
        self.assertEqual(em.check_order([0.10, 0.12], [0.12, 0.20]), em.WITHIN)
        self.assertEqual(em.check_order([0.12, 0.12], [0.12, 0.12]), em.REVERSED)
        # One seed a side: the order of the values.
        self.assertEqual(em.check_order([0.1], [0.2]), em.HOLDS)
        self.assertEqual(em.check_order([0.1, None], [0.2, float("nan")]), em.HOLDS)
        self.assertEqual(em.check_order([], [0.2]), em.NA)
        self.assertEqual(em.check_order([None], [0.2]), em.NA)
        self.assertEqual(em.check_order([0.1], [0.2, 0.3], min_seeds=2), em.NA)

    def test_verdicts(self):
        self.assertEqual(em.claim_verdict([em.HOLDS, em.HOLDS]), "yes")
        self.assertEqual(em.claim_verdict([em.HOLDS, em.WITHIN]), "inconclusive")
        self.assertEqual(em.claim_verdict([em.HOLDS, em.REVERSED]), "inconclusive")
        self.assertEqual(em.claim_verdict([em.HOLDS, em.NA]), "inconclusive")
        self.assertEqual(em.claim_verdict([em.HOLDS, em.CONTRADICTED]), "no")
        self.assertEqual(em.claim_verdict([em.WITHIN, em.CONTRADICTED, em.NA]), "no")
        self.assertEqual(em.claim_verdict([]), "not run")

    def test_choose_lr(self):
        g = [
            {"lr": 0.01, "val_error": 0.20, "train_loss": 0.5, "status": "ok"},
            {"lr": 0.03, "val_error": 0.15, "train_loss": 0.4, "status": "ok"},
            {"lr": 0.1, "val_error": None, "train_loss": None, "status": "diverged"},
        ]
        self.assertEqual(em.choose_lr(g), (0.03, False))
        g[0]["val_error"] = 0.10
        self.assertEqual(em.choose_lr(g), (0.01, True))
        # A diverged run never wins, even with a stale low error in its record.
        g2 = [
            {"lr": 1.0, "val_error": 0.01, "status": "diverged"},
            {"lr": 0.1, "val_error": 0.5, "status": "ok"},
        ]
        self.assertEqual(em.choose_lr(g2), (0.1, False))  # two lrs: no "edge"
        # Ties: the lower training loss, then the smaller lr.
        g3 = [
            {"lr": 0.3, "val_error": 0.1, "train_loss": 0.2, "status": "ok"},
            {"lr": 0.1, "val_error": 0.1, "train_loss": 0.3, "status": "ok"},
            {"lr": 0.03, "val_error": 0.1, "train_loss": 0.3, "status": "ok"},
        ]
        self.assertEqual(em.choose_lr(g3)[0], 0.3)
        g3[0]["train_loss"] = 0.3
        self.assertEqual(em.choose_lr(g3)[0], 0.03)
        self.assertEqual(em.choose_lr([]), (None, False))
        self.assertEqual(
            em.choose_lr([{"lr": 0.1, "val_error": 0.2, "status": "ok"}]), (0.1, False)
        )


class Files(unittest.TestCase):
    """What the runner writes for crema."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="exp_test_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_net_has_one_test_data_layer_per_stage(self):
        m = expplan.MODES["quick"]
        text, argv = expworkspace.net_text(expplan.resnet(8), m, 2000, "/some/val")
        self.assertIn("--max-images", argv)
        blocks = text.split("\nlayer {")
        data = [b for b in blocks if 'type: "MNISTData"' in b]
        self.assertEqual(len(data), 4)
        train = [b for b in data if "phase: TRAIN" in b]
        self.assertEqual(len(train), 1)
        self.assertIn("max_images: 2000", train[0])
        self.assertIn("mirror: true", train[0])
        want = {
            "test": ('split: "test"', m.test_images, expplan.DATA),
            "val": ('split: "val"', m.val_images, "/some/val"),
            "trainset": ('split: "train"', m.traineval_images, expplan.DATA),
        }
        for stage, (split, n, source) in want.items():
            b = [x for x in data if f'stage: "{stage}"' in x]
            self.assertEqual(len(b), 1, stage)
            self.assertIn("phase: TEST", b[0])
            self.assertIn(split, b[0])
            self.assertIn(f"max_images: {n}\n", b[0])
            self.assertIn(f'source: "{source}"', b[0])
            self.assertNotIn("mirror: true", b[0])
        self.assertIn("moving_average_fraction: 0.9\n", text)
        # --data: another Fashion-MNIST folder reaches netgen and the test and trainset layers.
        text, argv = expworkspace.net_text(expplan.resnet(8), m, 2000, "/some/val", "/elsewhere/fm")
        self.assertEqual(argv[argv.index("--source") + 1], "/elsewhere/fm")
        self.assertNotIn(expplan.DATA, text)
        self.assertEqual(text.count('source: "/elsewhere/fm"'), 3)  # TRAIN, test, trainset
        # The architecture flags reach netgen.
        self.assertIn("s1b1_sum", expworkspace.net_text(expplan.resnet(8), m, 2000, "/v")[0])
        self.assertNotIn("s1b1_sum", expworkspace.net_text(expplan.plain(8), m, 2000, "/v")[0])
        self.assertIn("Dropout", expworkspace.net_text(expplan.wrn(10, 2, 0.3), m, 2000, "/v")[0])

    def test_solvers(self):
        m = expplan.MODES["quick"]
        claims = expplan.claims_for("quick")
        grid, arms = expplan.build_runs("quick", [claims[2]], 2)
        self.assertEqual(len(grid), sum(len(o[3]["quick"]) for o in expplan.OPTIMIZERS.values()))
        self.assertEqual(len(arms), 2 * len(expplan.OPTIMIZERS))
        self.assertTrue(all(r.lr is None for r in arms))
        for r in grid:
            t = expworkspace.solver_text(r, m, "/n.prototxt", "/m.jsonl")
            self.assertIn('test_state {\n  stage: "val"\n}', t)
            self.assertIn(f"test_iter: {m.val_images // m.test_batch}\n", t)
            self.assertIn(f"random_seed: {expplan.GRID_SEED}\n", t)
            self.assertIn(f'type: "{expplan.OPTIMIZERS[r.opt][1]}"', t)
            self.assertIn('metrics_file: "/m.jsonl"', t)
            self.assertIn("snapshot_after_train: false", t)
            # crema refuses momentum for AdaGrad and RMSProp.
            self.assertEqual("momentum:" in t, r.opt in ("sgd", "adadelta", "adam"), r.opt)
        r = arms[0]
        r.lr = 0.1
        t = expworkspace.solver_text(r, m, "/n.prototxt", "/m.jsonl")
        # test_state i goes with test_iter i: test set first, then the training slice.
        self.assertLess(t.index('stage: "test"'), t.index('stage: "trainset"'))
        n_test, n_train = m.test_images // m.test_batch, m.traineval_images // m.test_batch
        self.assertIn(f"test_iter: {n_test}\ntest_iter: {n_train}\n", t)
        self.assertIn(f"max_iter: {m.iterations}\n", t)
        self.assertIn(f"test_interval: {m.iterations // m.test_passes}\n", t)
        self.assertIn("solver_mode: CPU\n", t)
        self.assertNotIn("device_id", t)
        t = expworkspace.solver_text(r, m, "/n.prototxt", "/m.jsonl", gpu=1)
        self.assertIn("solver_mode: GPU\ndevice_id: 1\n", t)

    def test_runs_shared_between_claims(self):
        c = expplan.claims_for("full")
        _, arms = expplan.build_runs("full", [c[1], c[3], c[4]], 2)
        ids = {}
        for r in arms:
            ids.setdefault(r.identity(), []).append(r.name)
        shared = [v for v in ids.values() if len(v) > 1]
        self.assertIn(
            ["claim1/res_lo_seed1", "claim3/bn_before_seed1", "claim4/post_lo_seed1"], shared
        )
        self.assertIn(["claim1/res_hi_seed2", "claim4/post_hi_seed2"], shared)
        self.assertEqual(
            len(ids), len(arms) - 6
        )  # claim 3's 2 standard arms, claim 4's 4 post-act arms

    def test_val_split_is_the_last_training_images(self):
        n_all, side = 7, 2
        images = bytes(range(n_all * side * side))
        with gzip.open(os.path.join(self.tmp, "train-images-idx3-ubyte.gz"), "wb") as f:
            f.write(
                (2051).to_bytes(4, "big")
                + n_all.to_bytes(4, "big")
                + side.to_bytes(4, "big") * 2
                + images
            )
        with open(os.path.join(self.tmp, "train-labels-idx1-ubyte"), "wb") as f:
            f.write((2049).to_bytes(4, "big") + n_all.to_bytes(4, "big") + bytes(range(n_all)))
        out = os.path.join(self.tmp, "val")
        expworkspace.write_val_split(self.tmp, out, 3)
        with open(os.path.join(out, "val-images-idx3-ubyte"), "rb") as f:
            data = f.read()
        self.assertEqual(int.from_bytes(data[4:8], "big"), 3)
        self.assertEqual(data[8:16], side.to_bytes(4, "big") * 2)
        self.assertEqual(data[16:], images[4 * side * side :])
        with open(os.path.join(out, "val-labels-idx1-ubyte"), "rb") as f:
            self.assertEqual(
                f.read(), (2049).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([4, 5, 6])
            )


class RefuseOtherDevice(unittest.TestCase):
    """GPU runs never merge into a report of CPU runs, nor CPU runs into a GPU report."""

    def test_refusal(self):
        tmp = tempfile.mkdtemp(prefix="exp_dev_")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "results.json")
        run_experiments.refuse_other_device(path, "full", 0)  # no results yet
        with open(path, "w") as f:
            json.dump({"mode": "full", "gpu": None, "claims": {"3": {}}}, f)
        run_experiments.refuse_other_device(path, "full", None)
        run_experiments.refuse_other_device(path, "quick", 0)  # another mode's results are replaced
        with self.assertRaises(SystemExit) as e:
            run_experiments.refuse_other_device(path, "full", 0)
        self.assertIn("holds runs on the CPU; give these runs their own --out", str(e.exception))
        with open(path, "w") as f:
            json.dump({"mode": "full", "gpu": 0, "claims": {"3": {}}}, f)
        with self.assertRaises(SystemExit) as e:
            run_experiments.refuse_other_device(path, "full", None)
        self.assertIn("holds runs on GPU 0", str(e.exception))


FAKE_CREMA = r"""#!/bin/sh
# A stand-in for `crema train -solver S -threads N`: writes a metrics file and exits as the
# solver's name says (ok, nan, crash).
solver=$3
metrics=$(sed -n 's/^metrics_file: "\(.*\)"$/\1/p' "$solver")
seed=$(sed -n 's/^random_seed: //p' "$solver")
echo "{\"iter\":0,\"lr\":0.1,\"loss\":2.3,\"images_per_s\":0}" > "$metrics"
case "$(cat "$(dirname "$0")/behaviour")" in
  ok) echo "{\"iter\":60,\"test_net\":0,\"loss\":0.5,\"accuracy\":0.8$seed}" >> "$metrics"
      echo "{\"iter\":60,\"test_net\":1,\"loss\":0.4,\"accuracy\":0.9}" >> "$metrics"
      echo "Final test accuracy: 0.8000 (iteration 60)"; exit 0 ;;
  nan) echo "F solver.cpp] Iteration 7: loss is -nan; training stopped before updating the" \
            "weights." >&2; exit 1 ;;
  *) echo "F net.cpp] something else broke" >&2; exit 1 ;;
esac
"""


class Execute(unittest.TestCase):
    """execute() with a stand-in crema: statuses, results, reuse of finished runs."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="exp_exec_")
        self.crema = os.path.join(self.tmp, "crema")
        with open(self.crema, "w") as f:
            f.write(FAKE_CREMA)
        os.chmod(self.crema, 0o755)
        self.ws = expworkspace.Workspace(os.path.join(self.tmp, "ws"), "quick", self.crema)
        _, self.runs = expplan.build_runs("quick", [expplan.claims_for("quick")[3]], 2)
        self.logged = []

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def behave(self, what):
        with open(os.path.join(self.tmp, "behaviour"), "w") as f:
            f.write(what)

    def execute(self, run, rerun=False):
        return exptrain.execute(
            run, self.ws, 1, rerun, None, lambda r, res: self.logged.append(res["status"])
        )

    def test_statuses_and_reuse(self):
        r = self.runs[0]
        self.behave("ok")
        res = self.execute(r)
        self.assertEqual((res["status"], res["returncode"]), ("ok", 0))
        self.assertIn("-threads 1", res["cmd"])
        s = exptrain.run_summary(res)
        self.assertAlmostEqual(s["test_error"], 0.19)
        self.assertAlmostEqual(s["train_error"], 0.1)
        self.assertEqual(s["curves"]["test_error"], [(60, s["test_error"])])
        # Finished and unchanged: reused, whatever crema would do now.
        self.behave("crash")
        self.assertTrue(self.execute(r).get("reused"))
        self.assertEqual(self.execute(r, rerun=True)["status"], "failed")
        self.behave("nan")
        res = self.execute(r)
        self.assertEqual(res["status"], "diverged")
        s = exptrain.run_summary(res)
        self.assertIsNone(s["test_error"])
        self.assertEqual(s["train_loss"], 2.3)
        self.behave("crash")
        res = self.execute(self.runs[1])
        self.assertEqual(res["status"], "failed")
        self.assertIn("something else broke", res["log_tail"])
        self.assertEqual(self.logged, ["ok", "ok", "failed", "diverged", "failed"])

    def test_ledger_resumes_in_a_fresh_run_directory(self):
        ledger = os.path.join(self.tmp, "out", "finished")
        ws = expworkspace.Workspace(
            os.path.join(self.tmp, "ws1"), "quick", self.crema, ledger=ledger
        )
        r = self.runs[0]
        self.behave("ok")
        first = exptrain.execute(r, ws, 1, False, None, lambda *_: None)
        self.assertTrue(os.path.exists(exptrain.ledger_path(ws, r)))
        # Another machine: an empty run directory, the ledger committed with the report.
        self.behave("crash")
        ws2 = expworkspace.Workspace(
            os.path.join(self.tmp, "ws2"), "quick", self.crema, ledger=ledger
        )
        again = exptrain.execute(r, ws2, 1, False, None, lambda *_: None)
        self.assertTrue(again.get("reused"))
        self.assertEqual(
            exptrain.run_summary(again)["test_error"], exptrain.run_summary(first)["test_error"]
        )
        self.assertTrue(again["metrics_path"].startswith(ws2.root))
        # The same training under another name (a claim sharing the run) is found too.
        other = expplan.build_runs("quick", [expplan.claims_for("quick")[1]], 2)[1]
        twin = [o for o in other if o.name == "claim1/res_lo_seed1"]
        if twin and r.name != twin[0].name:
            ws4 = expworkspace.Workspace(
                os.path.join(self.tmp, "ws4"), "quick", self.crema, ledger=ledger
            )
            self.assertTrue(
                exptrain.execute(twin[0], ws4, 1, False, None, lambda *_: None).get("reused")
            )
        # A changed solver or net (another fingerprint) trains again.
        for name in os.listdir(ledger):
            with open(os.path.join(ledger, name)) as f:
                entry = json.load(f)
            entry["portable_fingerprint"] = "something else"
            with open(os.path.join(ledger, name), "w") as f:
                json.dump(entry, f)
        ws3 = expworkspace.Workspace(
            os.path.join(self.tmp, "ws3"), "quick", self.crema, ledger=ledger
        )
        self.assertEqual(
            exptrain.execute(r, ws3, 1, False, None, lambda *_: None)["status"], "failed"
        )

    def test_gpu_runs_are_new_runs(self):
        r = self.runs[0]
        self.behave("ok")
        self.assertEqual(self.execute(r)["device"], "CPU")
        gpu_ws = expworkspace.Workspace(self.ws.root, "quick", self.crema, gpu=0)
        res = exptrain.execute(r, gpu_ws, 1, False, None, lambda *_: None)
        # The CPU run in the same run directory is not taken for it (its solver differs).
        self.assertFalse(res.get("reused"))
        self.assertEqual(res["device"], "GPU 0")
        self.assertTrue(res["cmd"].endswith("-threads 1 -gpu 0"), res["cmd"])

    def test_shared_runs_train_once(self):
        self.shared_runs(jobs=1)

    def test_shared_runs_train_once_in_parallel(self):
        self.shared_runs(jobs=3)

    def shared_runs(self, jobs):
        self.behave("ok")
        c = expplan.claims_for("quick")
        _, arms = expplan.build_runs("quick", [c[1], c[3]], 2)
        counter = [0, len(arms)]
        with contextlib.redirect_stderr(io.StringIO()) as err:
            exptrain.run_all(arms, self.ws, 1, jobs, False, None, counter)
        self.assertIn(
            f"/{len(arms) - 2}] claim3/bn_after_seed2: ok, test error 18.00%", err.getvalue()
        )
        self.assertIn(f"[{len(arms) - 2}/{len(arms) - 2}] ", err.getvalue())
        self.assertEqual(counter, [len(arms) - 2] * 2)
        shared = [r for r in arms if r.result.get("shared_with")]
        self.assertEqual(
            sorted(r.name for r in shared), ["claim3/bn_before_seed1", "claim3/bn_before_seed2"]
        )
        self.assertEqual(shared[0].result["claim"], 3)
        self.assertEqual(
            shared[0].result["metrics_path"],
            [r for r in arms if r.name == "claim1/res_lo_seed1"][0].result["metrics_path"],
        )


STAND_IN_CREMA = r"""#!/bin/sh
# A stand-in for `crema summary` and `crema train -solver S -threads N`: the training's test
# accuracy is 0.<digit in the file acc><seed>, so another digit makes another result.
here=$(dirname "$0")
case "$1" in
  summary) echo "Parameters: 1,000"; echo "Multiply-adds (Convolution, InnerProduct): 2,000,000"
           exit 0 ;;
  train) ;;
  *) exit 1 ;;
esac
solver=$3
metrics=$(sed -n 's/^metrics_file: "\(.*\)"$/\1/p' "$solver")
seed=$(sed -n 's/^random_seed: //p' "$solver")
last=$(sed -n 's/^max_iter: //p' "$solver")
acc=$(cat "$here/acc")
echo "{\"iter\":0,\"lr\":0.1,\"loss\":2.3,\"images_per_s\":0}" > "$metrics"
echo "{\"iter\":5,\"lr\":0.1,\"loss\":1.3,\"images_per_s\":500}" >> "$metrics"
for net in 0 1; do
  echo "{\"iter\":$last,\"test_net\":$net,\"loss\":0.5,\"accuracy\":0.$acc$seed}" >> "$metrics"
done
"""


class Invocations(unittest.TestCase):
    """run_experiments.main end to end with a stand-in crema and a synthetic Fashion-MNIST:
    where results go, what a report covers, and that it names no machine's paths."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="exp_inv_")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.crema = os.path.join(self.tmp, "bin", "crema")
        os.makedirs(os.path.dirname(self.crema))
        with open(self.crema, "w") as f:
            f.write(STAND_IN_CREMA)
        os.chmod(self.crema, 0o755)
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        n = expplan.MODES["quick"].val_images
        with open(os.path.join(self.data, "train-images-idx3-ubyte"), "wb") as f:
            f.write((2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (1).to_bytes(4, "big") * 2)
            f.write(bytes(n))
        with open(os.path.join(self.data, "train-labels-idx1-ubyte"), "wb") as f:
            f.write((2049).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(n))
        self.out = os.path.join(self.tmp, "out")
        self.run_dir = os.path.join(self.tmp, "run")
        no_plots = mock.patch.object(
            run_experiments, "make_plots", lambda spec, run_dir: (None, "plots skipped: test")
        )
        no_plots.start()
        self.addCleanup(no_plots.stop)

    def main(self, acc, *args):
        with open(os.path.join(os.path.dirname(self.crema), "acc"), "w") as f:
            f.write(str(acc))
        argv = ["--quick", "--crema", self.crema, "--data", self.data, "--out", self.out]
        argv += ["--run-dir", self.run_dir, *args]
        with (
            contextlib.redirect_stdout(io.StringIO()) as out,
            contextlib.redirect_stderr(io.StringIO()),
        ):
            self.assertEqual(run_experiments.main(argv), 0)
        with open(os.path.join(self.out, "results.json")) as f:
            results = json.load(f)
        with open(os.path.join(self.out, "report.md")) as f:
            report = f.read()
        return out.getvalue(), results, report

    def test_default_output_is_outside_the_repository(self):
        cwd = os.getcwd()
        os.chdir(self.tmp)
        self.addCleanup(os.chdir, cwd)
        rendered = []
        with mock.patch.object(
            run_experiments, "render_again", lambda mode, out_dir, *_: rendered.append(out_dir)
        ):
            run_experiments.main(["--quick", "--report-only", "--run-dir", self.run_dir])
            run_experiments.main(["--report-only", "--run-dir", self.run_dir])
            run_experiments.main(["--quick", "--report-only", "--out", "docs/experiments/quick"])
        here = os.path.realpath(self.tmp)
        self.assertEqual(
            [os.path.realpath(p) for p in rendered],
            [
                os.path.join(here, "experiments-out", "quick"),
                os.path.join(here, "experiments-out", "full"),
                os.path.join(here, "docs", "experiments", "quick"),  # --out writes anywhere
            ],
        )

    def test_report_covers_this_invocation_and_current_earlier_claims(self):
        self.main(8, "--claims", "1")
        # Claim 3 alone, trained again with other results: its standard arm is claim 1's
        # ResNet-8, so claim 1 must show the new numbers, not the ones it was collected with.
        stdout, results, report = self.main(7, "--claims", "3", "--rerun")
        self.assertRegex(stdout, r"(?m)^claim 3: .* reproduced at this scale\? ")
        self.assertNotRegex(stdout, r"(?m)^claim 1: ")
        self.assertEqual(sorted(results["claims"]), ["1", "3"])
        res_lo = [a for a in results["claims"]["1"]["arms"] if a["key"] == "res_lo"][0]
        before = [a for a in results["claims"]["3"]["arms"] if a["key"] == "bn_before"][0]
        self.assertEqual(
            [r["test_error"] for r in res_lo["runs"]], [r["test_error"] for r in before["runs"]]
        )
        self.assertAlmostEqual(before["runs"][0]["test_error"], 1 - 0.71)
        self.assertEqual(res_lo["stats"], before["stats"])
        for seed in (1, 2):
            with open(os.path.join(self.out, "metrics", "claim1", f"res_lo_seed{seed}.jsonl")) as f:
                shared = f.read()
            with open(
                os.path.join(self.out, "metrics", "claim3", f"bn_before_seed{seed}.jsonl")
            ) as f:
                self.assertEqual(shared, f.read())
        # The report: claim 3 as this invocation's, claim 1 under its own heading.
        head, _, earlier = report.partition("## Claims from earlier invocations")
        self.assertTrue(earlier, "no heading for the claims of earlier invocations")
        summary = head.split("## Summary")[1].split("## Results")[0]
        self.assertIn("| 3 | BN before the addition", summary)
        self.assertNotIn("| 1 |", summary)
        self.assertNotIn("Claim 1:", head)
        self.assertIn("### Claim 1: Shortcuts make depth help", earlier)
        self.assertRegex(earlier, r"- Claim 1: `run_experiments.py --quick .* --claims 1` on ")
        # Another budget: claim 1's runs are no longer what this invocation trains, so its
        # results are dropped instead of shown beside claim 3's.
        stdout, results, report = self.main(7, "--claims", "3", "--iterations", "30")
        self.assertEqual(sorted(results["claims"]), ["3"])
        self.assertNotIn("Claim 1", report)
        self.assertIn("Dropped: the results of claim(s) 1 from earlier invocations", report)
        self.assertRegex(stdout, r"(?m)^claims 1: results of earlier invocations dropped")

    def test_no_machine_paths_in_what_is_written(self):
        _, results, report = self.main(8, "--claims", "3")
        machine = os.path.basename(self.tmp)  # the temporary folder's unique name
        line = [x for x in report.splitlines() if x.startswith("Written by")][0]
        self.assertIn(
            "(run_experiments.py --quick --crema .../crema --data .../data --out .../out "
            "--run-dir .../run --claims 3) on ",
            line,
        )
        self.assertIn("; `crema` .../crema, ", line)
        self.assertNotIn(machine, report)
        self.assertNotIn(machine, json.dumps(results))
        self.assertNotIn(REPO.strip(os.sep), report)  # no link climbing out of the output dir
        self.assertIn("what each claim is: docs/EXPERIMENTS.md.", line)
        inside = run_experiments.shown_command(["--out", os.path.join(REPO, "docs", "x")])
        self.assertEqual(inside, "run_experiments.py --out docs/x")
        self.assertEqual(
            run_experiments.shown_command(["--crema=/opt/crema/bin/crema"]),
            "run_experiments.py --crema=.../crema",
        )
        # The finished/ ledger is committed with a report: no run directory, no crema path.
        ledger = os.path.join(self.out, "finished")
        self.assertTrue(os.listdir(ledger))
        for name in os.listdir(ledger):
            with open(os.path.join(ledger, name)) as f:
                entry = json.load(f)
            entry.pop("netgen")  # names --data's folder: an input, like a path in a solver
            self.assertNotIn(machine, json.dumps(entry), name)
            self.assertTrue(entry["cmd"].startswith("crema train -solver <run dir>/runs/"))


class Collect(unittest.TestCase):
    """Synthetic runs through collect(), the plot spec and the report: the rule end to end."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="exp_collect_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fake(self, claim, errors, walls=None, status=None):
        """errors: {arm key: [test error per seed]}; train error = test error - 0.02."""
        _, arms = expplan.build_runs("quick", [claim], len(next(iter(errors.values()))))
        for r in arms:
            e = errors[r.arm.key][r.seed - 1]
            path = os.path.join(self.tmp, "runs", r.name + ".jsonl")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("\n".join(metrics_lines(e * 2, 1 - e, 1 - e + 0.02)) + "\n")
            wall = (walls or {}).get(r.arm.key, [10.0, 11.0])[r.seed - 1]
            r.result = {
                "status": (status or {}).get((r.arm.key, r.seed), "ok"),
                "wall_s": wall,
                "seed": r.seed,
                "lr": r.lr,
                "tests": [s for s, _ in r.tests],
                "metrics_path": path,
                "threads": 1,
            }
        ws = expworkspace.Workspace(os.path.join(self.tmp, "ws"), "quick", None)
        return expresults.collect(claim, [], arms, ws, os.path.join(self.tmp, "out"), "quick")

    def test_claim3_yes_no_inconclusive(self):
        c3 = expplan.claims_for("quick")[3]
        res = self.fake(c3, {"bn_before": [0.10, 0.11], "bn_after": [0.13, 0.15]})
        self.assertEqual(res["verdict"], "yes")
        self.assertEqual(res["checks"][0]["outcome"], em.HOLDS)
        before = res["arms"][0]
        self.assertAlmostEqual(before["stats"]["test_error"]["mean"], 0.105)
        self.assertAlmostEqual(before["stats"]["test_error"]["spread"], 0.005)
        self.assertAlmostEqual(before["stats"]["train_error"]["mean"], 0.085)
        self.assertAlmostEqual(before["stats"]["train_loss"]["mean"], 0.21)
        self.assertEqual(before["runs"][0]["metrics"], "metrics/claim3/bn_before_seed1.jsonl")
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "out", before["runs"][0]["metrics"])))
        self.assertEqual(
            self.fake(c3, {"bn_before": [0.16, 0.17], "bn_after": [0.13, 0.15]})["verdict"], "no"
        )
        self.assertEqual(
            self.fake(c3, {"bn_before": [0.10, 0.14], "bn_after": [0.13, 0.15]})["verdict"],
            "inconclusive",
        )
        # A failed run leaves a seed out; a side with none left is n/a.
        r = self.fake(
            c3,
            {"bn_before": [0.10, 0.20], "bn_after": [0.13, 0.15]},
            status={("bn_before", 2): "failed"},
        )
        self.assertEqual(r["verdict"], "yes")
        self.assertEqual(r["arms"][0]["stats"]["test_error"]["n"], 1)
        r = self.fake(
            c3,
            {"bn_before": [0.10, 0.20], "bn_after": [0.13, 0.15]},
            status={("bn_before", 1): "diverged", ("bn_before", 2): "failed"},
        )
        self.assertEqual((r["checks"][0]["outcome"], r["verdict"]), (em.NA, "inconclusive"))

    def test_claim4_gap_grows(self):
        c4 = expplan.claims_for("quick")[4]
        # Gap at the low depth 0.01 per seed, at the high depth 0.03 and 0.04: holds.
        res = self.fake(
            c4,
            {
                "post_lo": [0.12, 0.13],
                "pre_lo": [0.11, 0.12],
                "post_hi": [0.13, 0.14],
                "pre_hi": [0.10, 0.10],
            },
        )
        self.assertEqual([k["outcome"] for k in res["checks"]], [em.HOLDS, em.HOLDS])
        self.assertAlmostEqual(res["checks"][1]["a"]["mean"], 0.01)
        self.assertAlmostEqual(res["checks"][1]["b"]["mean"], 0.035)
        # The gap shrinks with depth: contradicted.
        res = self.fake(
            c4,
            {
                "post_lo": [0.15, 0.16],
                "pre_lo": [0.10, 0.10],
                "post_hi": [0.13, 0.14],
                "pre_hi": [0.12, 0.13],
            },
        )
        self.assertEqual(res["checks"][1]["outcome"], em.CONTRADICTED)
        self.assertEqual(res["verdict"], "no")

    def test_claim5_wall_time_and_report(self):
        c5 = expplan.claims_for("quick")[5]
        res = self.fake(
            c5,
            {
                "wide": [0.10, 0.11],
                "wide_do": [0.08, 0.09],
                "thin": [0.12, 0.13],
                "thin_do": [0.12, 0.12],
            },
            walls={
                "wide": [5.0, 6.0],
                "wide_do": [5.0, 6.0],
                "thin": [9.0, 9.5],
                "thin_do": [9.0, 9.5],
            },
        )
        self.assertEqual([k["outcome"] for k in res["checks"]], [em.HOLDS] * 3)
        self.assertEqual(res["verdict"], "yes")
        out = os.path.join(self.tmp, "out")
        results = {
            "mode": "quick",
            "claims": {"5": res},
            "command": "run_experiments.py --quick",
            "finished": "now",
            "crema": "build/bin/crema",
            "threads": 1,
            "jobs": 1,
            "wall_s": 60.0,
            "n_runs": 8,
            "n_reused": 0,
            "n_shared": 0,
            "runs_wall_s": 60.0,
            "rate_gmacs": 10.0,
            "full_estimate": {"5": {"runs": 8, "hours": 20.0}, "all": {"runs": 50, "hours": 40.0}},
            "budget": {
                "iterations": 60,
                "batch": 64,
                "train_images": 2000,
                "test_images": 1000,
                "traineval_images": 500,
                "val_images": 1000,
                "grid_train_images": 2000,
                "grid_iterations": 40,
                "test_passes": 3,
                "display": 5,
                "warmup": 5,
                "seeds": [1, 2],
            },
        }
        spec = expreport.plot_spec(results, out)
        self.assertEqual(len(spec["figures"]), 1)
        panels = spec["figures"][0]["panels"]
        self.assertEqual(len(panels), 3)
        means = [s for s in panels[2]["series"] if not s.get("faint")]
        self.assertEqual([s["label"] for s in means], [a["label"] for a in res["arms"]])
        self.assertEqual(means[0]["x"], [20, 40, 60])
        self.assertAlmostEqual(means[0]["y"][-1], 0.105)
        expreport.write_report(results, out, "plots skipped: test")
        with open(os.path.join(out, "report.md")) as f:
            report = f.read()
        for a in res["arms"]:
            self.assertIn(f"| {a['label']} |", report)
        self.assertIn("| 10.50 ± 0.50 |", report)
        self.assertIn(
            "| 5 | Wide beats deep at a similar parameter count | 3 of 3 | **yes** |", report
        )
        self.assertIn("| all five (shared runs once) | 50 | 40.0 h |", report)
        self.assertIn("Plots skipped: test.", report)

    def test_mean_curve(self):
        xs, ys = expreport.mean_curve([[(0, 1.0), (5, 2.0), (10, 3.0)], [(0, 3.0), (5, 4.0)]])
        self.assertEqual(xs, [0, 5])
        self.assertEqual(ys, [2.0, 3.0])
        self.assertEqual(expreport.mean_curve([]), ([], []))
        self.assertTrue(
            math.isclose(
                expresults.cost_macs(1e6, 60, 64, 20, [("test", 1000)], 100),
                1e6 * (3 * 60 * 64 + 3 * 1000),
            )
        )


if __name__ == "__main__":
    unittest.main()
