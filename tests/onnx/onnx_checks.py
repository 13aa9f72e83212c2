# SPDX-License-Identifier: BSD-2-Clause
"""crema export and crema import against ONNX's checker and ONNX Runtime (docs/ONNX.md).

usage: onnx_checks.py net_defs|corpus|cases|import
Exit status 0 when every check passes, 1 on a failure, 77 (skipped) when there is nothing to
check (no corpus).
"""

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import onnx_cases
import onnx_import_checks
from onnx_support import CREMA, SOURCE_DIR, TOLERANCE, CheckFailed, export_and_compare, run

# Train/test nets: the input their data layers give (crema export -input_shape).
DATA_SHAPES = {"MNISTData": (1, 28, 28), "CIFARData": (3, 32, 32)}


def data_shape(path: Path, batch):
    """None for a deploy net; for a train/test net the shape its data layers are replaced by."""
    text = path.read_text()
    # Losses and Accuracy, in today's spelling or V0/V1's enums.
    if not re.search(r'Loss"|"Accuracy"|SOFTMAX_LOSS|ACCURACY', text):
        return None
    for layer, chw in DATA_SHAPES.items():
        if f'"{layer}"' in text:
            return (batch, *chw)
    name = str(path).lower()
    if "cifar" in name or "wrn-16" in name:
        return (batch, 3, 32, 32)
    side = 227 if "caffenet" in name else 224
    return (batch, 3, side, side)


# Corpus nets crema export must refuse, and the reason the message gives.
EXPECTED_REFUSALS = {
    "wide-resnet/wrn-28-10-ilsvrc151-trainval": "use_global_stats: false",
}
# Corpus nets left out: random weights overflow float32 through 1001 layers in both runtimes.
LEFT_OUT = {"preact-resnet/preresnet1001-cifar10"}
# Compared more loosely, and why: with random statistics this SE-ResNet's activations reach
# about 1e3 and its logits' float32 rounding 2e-4 of the largest; compared layer by layer the
# difference grows gradually from 1e-7, no layer jumps (a wrong mapping would).
TOLERANCES = {"se-resnet/se-resnet-50-scale2bottom-deploy": 1e-3}


def check_refusal(name, net, work: Path, shape, reason):
    args = [CREMA, "export", "-model", net, "-out", work / "refused.onnx"]
    if shape:
        args += ["-input_shape", ",".join(map(str, shape))]
    status, out = run(args, expect_ok=False)
    if status != 1 or reason not in out:
        raise CheckFailed(f"{name}: expected a refusal naming '{reason}', got {status}:\n{out}")
    return f"refused as expected ({reason})"


def check_nets(label, nets, work: Path):
    failures = []
    for net in nets:
        start = time.time()
        name = net.relative_to(net.parents[1]).with_suffix("").as_posix()
        if name in LEFT_OUT:
            print(f"LEFT OUT {label} {name}")
            continue
        if name in EXPECTED_REFUSALS:
            big = "224" in net.read_text()
            try:
                print(
                    f"PASS {label} {name}: "
                    + check_refusal(
                        name, net, work, data_shape(net, 1 if big else 2), EXPECTED_REFUSALS[name]
                    )
                )
            except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
                print(f"FAIL {label} {name}: {e}")
                failures.append(name)
            continue
        text = net.read_text()
        big = "224" in text or "227" in text or "imagenet" in str(net).lower()
        batch = 1 if big else 2
        try:
            err = export_and_compare(
                name,
                net,
                work / name.replace("/", "_"),
                data_shape(net, batch),
                batch,
                tolerance=TOLERANCES.get(name, TOLERANCE),
            )
            took = time.time() - start
            print(f"PASS {label} {name}: max relative difference {err:.2e} ({took:.1f} s)")
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            print(f"FAIL {label} {name}: {e}")
            failures.append(name)
        sys.stdout.flush()
    return failures


def net_files(root: Path, skip_dirs=()):
    nets = []
    for p in sorted(root.rglob("*.prototxt")):
        if "solver" in p.name or any(part in skip_dirs for part in p.parts):
            continue
        nets.append(p)
    return nets


def main():
    group = sys.argv[1] if len(sys.argv) > 1 else ""
    with tempfile.TemporaryDirectory(prefix="crema-onnx-") as tmp:
        work = Path(tmp)
        if group == "net_defs":
            failures = check_nets("net_defs", net_files(SOURCE_DIR / "net_defs"), work)
        elif group == "corpus":
            corpus = Path(
                os.environ.get("CREMA_CORPUS_DIR", SOURCE_DIR.parent / "shared/corpus/prototxt")
            )
            if not corpus.is_dir():
                print(f"skipped: no corpus at {corpus} (set CREMA_CORPUS_DIR)")
                return 77
            # The classification nets: not the solvers, the detection net, or the V0/V1 files
            # (AlexNet-era nets, whose LRN within channels ONNX lacks).
            skip = ("solvers", "detection", "v1-format")
            failures = check_nets("corpus", net_files(corpus, skip), work)
        elif group == "cases":
            failures = onnx_cases.run_all(work)
        elif group == "import":
            failures = onnx_import_checks.run_all(work)
        else:
            print(__doc__)
            return 2
    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
