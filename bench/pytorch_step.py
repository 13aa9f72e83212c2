#!/usr/bin/env python3
"""One PyTorch training step (forward, backward, SGD+momentum update), timed the way
`crema time` times crema's, for a side-by-side comparison on the same machine.

  /usr/bin/python3 bench/pytorch_step.py --model resnet20 --batch 64 --threads 1
  python3 bench/pytorch_step.py --model resnet50 --batch 32 --device cuda   # fp32, cuDNN benchmark mode

On the GPU: plain FP32 (TF32 off for matmuls and cuDNN, as crema computes), cudnn.benchmark on,
each step timed with CUDA events after warm-up steps.

ResNet-20 here is the same net as net_defs/bench/resnet20_cifar_b64.prototxt (basic blocks,
16/32/64 channels, 1x1 projection shortcuts with BN); ResNet-50 is torchvision's.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.proj is None else self.proj(x)))


def resnet20(classes=10):
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(3):
            layers.append(Basic(cin, cout, stride if b == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    def __init__(self, cin, mid, stride):
        super().__init__()
        cout = 4 * mid
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.proj is None else self.proj(x)))


def resnet50(classes=1000):
    """torchvision's resnet50 (v1.5: stride in the 3x3), for machines without torchvision."""
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            layers.append(Bottleneck(cin, mid, stride if b == 0 else 1))
            cin = 4 * mid
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["resnet20", "resnet50"], default="resnet20")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on the GPU (PyTorch's cuDNN default)")
    ap.add_argument("--channels-last", action="store_true", help="NHWC memory format (oneDNN's best on the CPU)")
    ap.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                    help="bf16/fp16: torch.autocast over forward and loss, fp32 weights and update")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.model == "resnet20":
        net, size, classes = resnet20(), 32, 10
    else:
        try:
            import torchvision
            net = torchvision.models.resnet50()
        except ImportError:
            net = resnet50()
        size, classes = 224, 1000
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, size, size)
    y = torch.randint(0, classes, (a.batch,))
    loss_fn = nn.CrossEntropyLoss()
    gpu = a.device == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
        net, x, y = net.cuda(), x.cuda(), y.cuda()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    if a.channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    autocast_type = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    scaler = torch.amp.GradScaler(a.device, enabled=a.precision == "fp16")

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(a.device, dtype=autocast_type or torch.float32, enabled=autocast_type is not None):
            loss = loss_fn(net(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    times = []
    warmup = 5 if gpu else 2
    for i in range(a.iters + warmup):
        if gpu:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            ms = start.elapsed_time(end)
        else:
            t = time.perf_counter()
            step()
            ms = (time.perf_counter() - t) * 1000
        if i >= warmup:
            times.append(ms)
    where = f"cuda ({torch.cuda.get_device_name()})" if gpu else f"threads {a.threads}"
    layout = "channels_last" if a.channels_last else "NCHW"
    print(f"pytorch {torch.__version__} {a.model} batch {a.batch} {where} {a.precision} {layout}: "
          f"median step {statistics.median(times):.1f} ms over {a.iters}")


if __name__ == "__main__":
    main()
