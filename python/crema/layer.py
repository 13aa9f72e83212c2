# SPDX-License-Identifier: BSD-2-Clause
"""crema.Layer (caffe.Layer): the base of layers written in Python (``type: "Python"``).

The Python layer plugin (layers/python) creates the class named in ``python_param``, sets
``param_str`` and ``phase``, then calls setup, reshape, forward and backward with lists of blobs
whose ``.data`` and ``.diff`` are numpy arrays over crema's memory. docs/PYTHON.md.
"""


class Layer:
    """Override setup, reshape, forward and backward (pycaffe's protocol)."""

    def __init__(self, param=None):
        self.param = param  # name, type, phase and python_param of the layer's definition
        self.param_str = getattr(getattr(param, "python_param", None), "param_str", "")
        self.phase = getattr(param, "phase", 0)

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        pass
