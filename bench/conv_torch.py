#!/usr/bin/env python3
"""PyTorch's CPU convolution on the shapes of conv_bench.cpp (batch 64; forward, and forward +
backward with input and weight gradients; thread CPU time, best of 5 rounds) for a layer-by-layer
comparison with crema's Convolution plugins:

  /usr/bin/python3 bench/conv_torch.py [--threads 1]     # beside CREMA_NUM_THREADS=1 conv_bench
"""
import argparse
import time

import torch
import torch.nn as nn

CASES = [  # name, cin, cout, hw, kernel, stride, pad, groups (as in conv_bench.cpp)
    ("conv1 3->16 3x3 32x32", 3, 16, 32, 3, 1, 1, 1),
    ("16->16 3x3 32x32", 16, 16, 32, 3, 1, 1, 1),
    ("32->32 3x3 16x16", 32, 32, 16, 3, 1, 1, 1),
    ("64->64 3x3 8x8", 64, 64, 8, 3, 1, 1, 1),
    ("16->32 3x3 s2 32x32", 16, 32, 32, 3, 2, 1, 1),
    ("16->32 1x1 s2 32x32", 16, 32, 32, 1, 2, 0, 1),
    ("64->64 1x1 8x8", 64, 64, 8, 1, 1, 0, 1),
    ("depthwise 96 3x3 32x32", 96, 96, 32, 3, 1, 1, 96),
]


def best_time(fn, clock):
    fn()
    t0 = clock()
    fn()
    reps = max(1, int(0.2 / max(clock() - t0, 1e-6)))
    best = float("inf")
    for _ in range(5):
        start = clock()
        for _ in range(reps):
            fn()
        best = min(best, (clock() - start) / reps)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # One thread runs on this thread: its CPU time ignores other processes on a shared machine.
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, "
          f"{args.threads} thread(s), batch {args.batch}")
    total = 0.0
    for name, cin, cout, hw, k, s, p, g in CASES:
        conv = nn.Conv2d(cin, cout, k, s, p, bias=True, groups=g)
        x = torch.randn(args.batch, cin, hw, hw, requires_grad=True)
        dy = torch.randn_like(conv(x))

        def forward():
            with torch.no_grad():
                conv(x)

        def forward_backward():
            conv(x).backward(dy)

        tf, tfb = best_time(forward, clock), best_time(forward_backward, clock)
        out = (hw + 2 * p - k) // s + 1
        flops = 2.0 * args.batch * cout * out * out * (cin // g) * k * k
        if g == 1:
            total += tfb
        print(f"{name:24s} fwd {tf * 1e3:8.3f} ms  fwd+bwd {tfb * 1e3:8.3f} ms  "
              f"fwd {flops / tf * 1e-9:6.1f} GF/s  f+b {3 * flops / tfb * 1e-9:6.1f} GF/s")
    print(f"total fwd+bwd without depthwise {total * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
