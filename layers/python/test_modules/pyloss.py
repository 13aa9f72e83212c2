# SPDX-License-Identifier: BSD-2-Clause
"""Caffe's pyloss.py example (EuclideanLossLayer), scaled by the top's diff as a loss weight."""

import numpy as np


class EuclideanLossLayer:
    """E = sum((a - b)^2) / (2 N); a plain class: pycaffe's protocol is all the layer needs."""

    def setup(self, bottom, top):
        if len(bottom) != 2:
            raise Exception("Need two inputs to compute distance.")

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise Exception("Inputs must have the same dimension.")
        self.diff = np.zeros_like(bottom[0].data, dtype=np.float32)
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff[...] = bottom[0].data - bottom[1].data
        top[0].data[...] = np.sum(self.diff**2) / bottom[0].num / 2.0

    def backward(self, top, propagate_down, bottom):
        for i in range(2):
            if not propagate_down[i]:
                continue
            sign = 1 if i == 0 else -1
            bottom[i].diff[...] = sign * top[0].diff[0] * self.diff / bottom[i].num


class Raises:
    """Raises in forward, to show the traceback crema reports."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        self.divide_by_zero()

    def divide_by_zero(self):
        return 1 / 0


class ShapedInSetup:
    """A data layer in Caffe's habit: tops shaped in setup, reshape does nothing."""

    def setup(self, bottom, top):
        self.batch = int(self.param_str)
        top[0].reshape(self.batch, 3)

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        top[0].data[...] = np.arange(self.batch * 3).reshape(self.batch, 3) + self.phase * 100


class KeepsBlob:
    """Keeps its top between calls: the second forward uses a retired blob."""

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        if hasattr(self, "kept"):
            self.kept.data[...] = 0
        self.kept = top[0]


class ReshapesInForward:
    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].reshape(*bottom[0].shape)  # the same shape: allowed
        top[0].reshape(1, 1)
