#!/usr/bin/env python3
"""One PyTorch CPU training step (forward, backward, SGD+momentum update), timed the way
`crema time` times crema's, for a side-by-side comparison on the same machine.

  /usr/bin/python3 bench/pytorch_step.py --model resnet20 --batch 64 --threads 1

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["resnet20", "resnet50"], default="resnet20")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.model == "resnet20":
        net, size, classes = resnet20(), 32, 10
    else:
        import torchvision
        net, size, classes = torchvision.models.resnet50(), 224, 1000
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, size, size)
    y = torch.randint(0, classes, (a.batch,))
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for i in range(a.iters + 2):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()
        if i >= 2:
            times.append((time.perf_counter() - t) * 1000)
    print(f"pytorch {torch.__version__} {a.model} batch {a.batch} threads {a.threads}: "
          f"median step {statistics.median(times):.1f} ms over {a.iters}")


if __name__ == "__main__":
    main()
