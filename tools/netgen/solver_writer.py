# SPDX-License-Identifier: BSD-2-Clause
"""The SGD solver written beside a net (--solver): cosine schedule with warmup, epochs counted in
iterations."""

import os

from prototxt_writer import Enum, fmt_fields


def solver_text(a, net_file, header):
    iters_per_epoch = -(-a.train_images // a.batch)
    max_iter = a.max_iter or a.epochs * iters_per_epoch
    test_iter = -(-a.test_images // a.test_batch)
    stem = os.path.splitext(os.path.basename(net_file))[0]
    f = [
        ("net", net_file),
        ("test_iter", test_iter),
        ("test_interval", iters_per_epoch),
        ("test_initialization", False),
        ("base_lr", a.base_lr),
        ("lr_policy", "cosine"),
        ("warmup_iter", a.warmup_iter),
        ("warmup_start_factor", 0.1),
        ("momentum", 0.9),
        ("weight_decay", a.weight_decay),
        ("type", "SGD"),
        ("max_iter", max_iter),
        ("display", 50),
        ("snapshot_prefix", f"snapshots/{a.dataset}/{stem}"),
        ("random_seed", 1),
        ("solver_mode", Enum("CPU")),
    ]
    lines = ["# " + h for h in header]
    lines.append(
        f"# {a.epochs if not a.max_iter else max_iter / iters_per_epoch:g} epochs of "
        f"{iters_per_epoch} iterations (batch {a.batch}); test: {test_iter} x {a.test_batch} images"
    )
    lines += fmt_fields(f, 0)
    return "\n".join(lines) + "\n"
