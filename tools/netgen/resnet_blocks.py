# SPDX-License-Identifier: BSD-2-Clause
"""The layers of one residual unit: convolutions, BN placement (post-activation, pre-activation,
BN after the addition), the A/B/C shortcuts, dropout, bottleneck or basic branch, plain twins."""

from prototxt_writer import Enum


class BlockBuilder:
    """Adds layers to a NetWriter as the parsed netgen flags `args` ask."""

    def __init__(self, net, args):
        self.n = net
        self.a = args

    # A convolution: no bias (BatchNorm + Scale follow, or it feeds an addition normalised
    # later), msra weights.
    def conv(self, name, bottom, num_output, kernel, stride=1, pad=None, top=None):
        if pad is None:
            pad = (kernel - 1) // 2
        p = [("num_output", num_output), ("bias_term", False)]
        if pad:
            p.append(("pad", pad))
        p.append(("kernel_size", kernel))
        if stride != 1:
            p.append(("stride", stride))
        p.append(("weight_filler", [("type", "msra")]))
        return self.n.add(name, "Convolution", [bottom], [top or name], ("convolution_param", p))

    # BatchNorm (statistics only; its three blobs are state, not parameters) then Scale with a
    # bias (the learned gamma, beta). In place on `blob` unless `top` names a new blob.
    def bn(self, prefix, blob, top=None, bn_name=None, scale_name=None):
        top = top or blob
        body = []
        if self.a.bn_maf is not None:
            body.append(("batch_norm_param", [("moving_average_fraction", self.a.bn_maf)]))
        self.n.add(bn_name or prefix + "_bn", "BatchNorm", [blob], [top], *body)
        self.n.add(
            scale_name or prefix + "_scale",
            "Scale",
            [top],
            [top],
            ("scale_param", [("bias_term", True)]),
        )
        return top

    def relu(self, name, blob):
        return self.n.add(name, "ReLU", [blob], [blob])

    def dropout(self, name, blob, ratio):
        return self.n.add(
            name, "Dropout", [blob], [blob], ("dropout_param", [("dropout_ratio", ratio)])
        )

    def add(self, name, a, b):
        return self.n.add(
            name, "Eltwise", [a, b], [name], ("eltwise_param", [("operation", Enum("SUM"))])
        )

    # Option A: subsample by taking every stride-th pixel (a 1x1 average pooling, floor rounding:
    # with Caffe's default ceil rounding 32 would give 17, not 16) and append zero channels.
    # The zeros are x - x (an Eltwise SUM with coefficients 1, -1: exactly 0, no parameters, the
    # batch size follows x in every phase) repeated as often as needed, joined by a Concat on
    # the channel axis: fb.resnet.torch's shortcutType 'A' (Identity concatenated with
    # MulConstant(0)) in Caffe layers.
    def shortcut_a(self, prefix, x, cin, cout, stride):
        if cout % cin:
            raise SystemExit(
                f"shortcut A needs output channels ({cout}) to be a multiple of the input "
                f"channels ({cin})"
            )
        if stride != 1:
            x = self.n.add(
                prefix + "_down",
                "Pooling",
                [x],
                [prefix + "_down"],
                (
                    "pooling_param",
                    [
                        ("pool", Enum("AVE")),
                        ("kernel_size", 1),
                        ("stride", stride),
                        ("round_mode", Enum("FLOOR")),
                    ],
                ),
            )
        if cout == cin:
            return x
        zeros = self.n.add(
            prefix + "_zeros",
            "Eltwise",
            [x, x],
            [prefix + "_zeros"],
            ("eltwise_param", [("operation", Enum("SUM")), ("coeff", 1.0), ("coeff", -1.0)]),
        )
        return self.n.add(
            prefix + "_pad",
            "Concat",
            [x] + [zeros] * (cout // cin - 1),
            [prefix + "_pad"],
            ("concat_param", [("axis", 1)]),
        )

    # The shortcut of a block whose input x has cin channels; `normed`: add BN/Scale after a
    # projection (post-activation nets; pre-activation ones project the activated input bare).
    def shortcut(self, prefix, x, cin, cout, stride, normed):
        kind = self.a.shortcut
        if cin == cout and stride == 1 and kind != "C":
            return x
        if kind == "A":
            return self.shortcut_a(prefix, x, cin, cout, stride)
        p = self.conv(prefix + "_proj", x, cout, 1, stride)
        if normed:
            self.bn(prefix + "_proj", p)
        return p

    # One residual unit; returns its output blob and channels. `activated`: x is already
    # BN-ReLU'ed (pre-activation nets after the ImageNet stem), so the unit adds no
    # pre-activation of its own.
    def unit(self, prefix, x, cin, width, stride, activated=False):
        cout = width * 4 if self.a.block == "bottleneck" else width
        convs = self.branch_convs(width, cout, stride)
        if self.a.preact:
            return self.preact_unit(prefix, x, cin, cout, stride, convs, activated), cout
        return self.postact_unit(prefix, x, cin, cout, stride, convs), cout

    # The convolutions of the residual branch: (kernel, channels, stride).
    def branch_convs(self, width, cout, stride):
        if self.a.block == "bottleneck":
            s1, s3 = (stride, 1) if self.a.stride_1x1 else (1, stride)
            return [(1, width, s1), (3, width, s3), (1, cout, 1)]
        return [(3, width, stride), (3, width, 1)]

    # BN-ReLU before each convolution. Where the shortcut is a projection (or A's subsampling)
    # it takes the activated input too (He et al. 2016's units that increase dimensions); else
    # the identity keeps the raw x. The unit's first BN writes a new blob either way (the raw x
    # is still needed, or, when shared, so that the BN-ReLU belongs to this unit and not to the
    # previous unit's addition).
    def preact_unit(self, prefix, x, cin, cout, stride, convs, activated):
        a = self.a
        shared = a.plain or (stride != 1 or cin != cout or a.shortcut == "C")
        if activated:
            branch, short_in = x, x
        else:
            branch = self.bn(prefix + "_preact", x, top=prefix + "_preact")
            self.relu(prefix + "_preact_relu", branch)
            short_in = branch if shared else x
        y = branch
        for i, (k, c, s) in enumerate(convs, 1):
            if i > 1:
                self.bn(f"{prefix}_conv{i - 1}", y)
                self.relu(f"{prefix}_relu{i - 1}", y)
                if a.dropout and i == len(convs):
                    self.dropout(f"{prefix}_dropout", y, a.dropout)
            y = self.conv(f"{prefix}_conv{i}", y, c, k, s)
        if a.plain:
            return y
        sc = self.shortcut(prefix, short_in, cin, cout, stride, normed=False)
        return self.add(prefix + "_sum", y, sc)

    # Conv-BN-ReLU, the last BN before the addition (or, --bn-after-add, after it), then ReLU.
    def postact_unit(self, prefix, x, cin, cout, stride, convs):
        a = self.a
        last = len(convs)
        y = x
        for i, (k, c, s) in enumerate(convs, 1):
            y = self.conv(f"{prefix}_conv{i}", y, c, k, s)
            if i < last:
                self.bn(f"{prefix}_conv{i}", y)
                self.relu(f"{prefix}_relu{i}", y)
                if a.dropout and i == last - 1:
                    self.dropout(f"{prefix}_dropout", y, a.dropout)
            elif not a.bn_after_add:
                self.bn(f"{prefix}_conv{i}", y)
        if a.plain:
            self.relu(prefix + "_relu", y)
            return y
        sc = self.shortcut(prefix, x, cin, cout, stride, normed=True)
        y = self.add(prefix + "_sum", y, sc)
        if a.bn_after_add:
            self.bn(prefix + "_sum", y)
        self.relu(prefix + "_relu", y)
        return y
