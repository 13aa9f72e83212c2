# SPDX-License-Identifier: BSD-2-Clause
"""A Python data layer in Caffe's habit: two Gaussian clusters in 6-d and their 0/1 labels."""

import caffe
import numpy as np


class SeparableData(caffe.Layer):
    """param_str: the batch size. TRAIN and TEST draw from streams of their own."""

    def setup(self, bottom, top):
        if bottom:
            raise Exception("SeparableData takes no bottoms")
        self.batch = int(self.param_str)
        self.rng = np.random.default_rng(1 if self.phase == caffe.TRAIN else 2)
        top[0].reshape(self.batch, 6)
        top[1].reshape(self.batch)

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        labels = self.rng.integers(0, 2, self.batch)
        centres = (labels[:, None] * 2.0 - 1.0) * np.ones((1, 6))
        top[0].data[...] = centres + 0.7 * self.rng.standard_normal((self.batch, 6))
        top[1].data[...] = labels

    def backward(self, top, propagate_down, bottom):
        pass
