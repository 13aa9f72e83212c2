# SPDX-License-Identifier: BSD-2-Clause
"""Caffe's pyloss.py example, EuclideanLossLayer, with the top's diff as the loss weight."""

import crema
import numpy as np


class EuclideanLossLayer(crema.Layer):
    """E = sum((a - b)^2) / (2 N)."""

    def setup(self, bottom, top):
        if len(bottom) != 2:
            raise Exception("Need two inputs to compute distance.")

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise Exception("Inputs must have the same dimension.")
        self.diff = np.zeros_like(bottom[0].data, dtype=np.float32)
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff[...] = bottom[0].data - bottom[1].data.reshape(self.diff.shape)
        top[0].data[...] = np.sum(self.diff**2) / bottom[0].num / 2.0

    def backward(self, top, propagate_down, bottom):
        for i in range(2):
            if not propagate_down[i]:
                continue
            sign = 1 if i == 0 else -1
            bottom[i].diff[...] = (sign * top[0].diff[0] / bottom[i].num) * self.diff.reshape(
                bottom[i].diff.shape
            )


class RaisesInForward(crema.Layer):
    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        self.check_batch(bottom[0].data)

    def check_batch(self, batch):
        raise ValueError(f"batch of shape {batch.shape} refused on purpose")
