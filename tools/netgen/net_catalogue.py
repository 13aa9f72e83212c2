# SPDX-License-Identifier: BSD-2-Clause
"""The checked-in files: path under net_defs/ and the netgen flags that make each one.

`--all` regenerates exactly these (tests/netgen/regenerate_test.sh diffs them). A net with
`--solver NAME` also gets a solver file NAME beside it. The flags are written into each file's
header, so their text and order are part of the output.
"""

FM = "--dataset fashion_mnist --batch 128 --test-batch 100 --bn-maf 0.99"
FM_SOLVER = "--epochs 6"
C10 = "--dataset cifar10 --batch 128 --test-batch 100"


def fashion_mnist(net, flags, solver=None):
    """An experiment net with its solver (default NET_solver.prototxt) beside it."""
    solver = solver or f"{net}_solver.prototxt"
    return f"fashion_mnist/{net}.prototxt", f"{FM} {flags} --solver {solver} {FM_SOLVER}"


def cifar10(net, flags):
    return f"cifar/{net}.prototxt", f"{C10} {flags}"


def imagenet_deploy(net, flags):
    return f"imagenet/{net}.prototxt", f"--dataset imagenet {flags} --data deploy"


def bench(net, flags):
    return f"bench/{net}.prototxt", flags


TABLE = [
    # Fashion-MNIST (28x28x1): the experiments. resnet20 is the main job's net.
    fashion_mnist("resnet20", "--depth 20 --shortcut B", solver="solver.prototxt"),
    fashion_mnist("plain20", "--depth 20 --plain"),
    fashion_mnist("resnet20_optA", "--depth 20 --shortcut A"),
    fashion_mnist("resnet20_preact", "--depth 20 --shortcut B --preact"),
    fashion_mnist("resnet20_bn_after_add", "--depth 20 --shortcut B --bn-after-add"),
    fashion_mnist("resnet56", "--depth 56 --shortcut B"),
    fashion_mnist("plain56", "--depth 56 --plain"),
    fashion_mnist("resnet56_preact", "--depth 56 --shortcut B --preact"),
    fashion_mnist("resnet56_bn_after_add", "--depth 56 --shortcut B --bn-after-add"),
    fashion_mnist("resnet110", "--depth 110 --shortcut B"),
    fashion_mnist("plain110", "--depth 110 --plain"),
    fashion_mnist("resnet110_preact", "--depth 110 --shortcut B --preact"),
    fashion_mnist("wrn_16_4", "--arch wrn --depth 16 --width 4"),
    fashion_mnist("wrn_16_4_dropout", "--arch wrn --depth 16 --width 4 --dropout 0.3"),
    # The experiments' claim 5 (wide vs deep on 2 cores): WRN-16-2 (0.69M parameters) against the
    # thin pre-act ResNet-56 above (0.86M), each also with dropout 0.3 between a unit's
    # convolutions.
    fashion_mnist("wrn_16_2", "--arch wrn --depth 16 --width 2"),
    fashion_mnist("wrn_16_2_dropout", "--arch wrn --depth 16 --width 2 --dropout 0.3"),
    fashion_mnist("resnet56_preact_dropout", "--depth 56 --shortcut B --preact --dropout 0.3"),
    # Thin and deep, about WRN-16-4's 2.75M parameters: pre-activation basic blocks, n = 29.
    fashion_mnist("resnet176_preact", "--depth 176 --shortcut B --preact"),
    # CIFAR-10 (32x32x3), the published configurations: option A for the CIFAR ResNets.
    cifar10("resnet20", "--depth 20 --shortcut A"),
    cifar10("resnet32", "--depth 32 --shortcut A"),
    cifar10("resnet44", "--depth 44 --shortcut A"),
    cifar10("resnet56", "--depth 56 --shortcut A"),
    cifar10("resnet110", "--depth 110 --shortcut A"),
    cifar10("plain20", "--depth 20 --plain"),
    cifar10("plain56", "--depth 56 --plain"),
    cifar10("resnet20_optB", "--depth 20 --shortcut B"),
    cifar10("resnet110_preact", "--depth 110 --shortcut B --preact"),
    cifar10("resnet164_preact", "--depth 164 --block bottleneck --shortcut B --preact"),
    cifar10("resnet20_bn_after_add", "--depth 20 --shortcut A --bn-after-add"),
    cifar10("wrn_16_4", "--arch wrn --depth 16 --width 4"),
    cifar10("wrn_28_10", "--arch wrn --depth 28 --width 10"),
    cifar10("wrn_28_10_dropout", "--arch wrn --depth 28 --width 10 --dropout 0.3"),
    # ImageNet deploy (Input 1x3x224x224, Softmax "prob"); shortcut B, stride in the 3x3 (v1.5).
    imagenet_deploy("resnet18", "--depth 18"),
    imagenet_deploy("resnet34", "--depth 34"),
    imagenet_deploy("resnet50", "--depth 50"),
    imagenet_deploy("resnet101", "--depth 101"),
    imagenet_deploy("resnet152", "--depth 152"),
    imagenet_deploy("resnet50_preact", "--depth 50 --preact"),
    # Benchmarks for `crema time`: Input data + label, SoftmaxWithLoss, trains on random input.
    bench(
        "resnet20_cifar_b64", "--dataset cifar10 --depth 20 --shortcut B --data input --batch 64"
    ),
    bench("resnet50_b8", "--dataset imagenet --depth 50 --data input --batch 8"),
    bench(
        "resnet20_cifar_b128", "--dataset cifar10 --depth 20 --shortcut B --data input --batch 128"
    ),
    bench("resnet50_b32", "--dataset imagenet --depth 50 --data input --batch 32"),
]
