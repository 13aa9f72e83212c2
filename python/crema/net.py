# SPDX-License-Identifier: BSD-2-Clause
"""crema.Net with pycaffe's interface: blobs, params, layers, forward(**inputs), backward()."""

from collections import OrderedDict

import numpy as np

from . import _crema

TRAIN = 0  # Caffe's Phase values, as in crema.proto
TEST = 1


class LayerView:
    """One layer as pycaffe's net.layers shows it: its name, type and parameter blobs."""

    def __init__(self, name, type_, blobs):
        self.name = name
        self.type = type_
        self.blobs = blobs

    def __repr__(self):
        return f"<crema layer {self.name!r} ({self.type}), {len(self.blobs)} blob(s)>"


def _is_phase(value):
    return isinstance(value, int) and not isinstance(value, bool) and value in (TRAIN, TEST)


class Net:
    """A net built from a prototxt, in TRAIN or TEST phase, with weights from a .caffemodel.

    Net(model, weights=None, phase=TEST) and pycaffe's positional forms, Net(model, phase) and
    Net(model, weights, phase); level and stages select layers as NetState does.
    """

    def __init__(self, model, *args, weights=None, phase=None, level=0, stages=(), _handle=None):
        if _handle is None:
            weights, phase = _positional(args, weights, phase)
            _handle = _crema._Net(
                str(model), phase, None if weights is None else str(weights), level, list(stages)
            )
        self._net = _handle
        names = self._net.layer_names()
        self._layer_names = list(names)
        self.blobs = OrderedDict((n, self._net.blob(n)) for n in self._net.blob_names())
        self.layers = [
            LayerView(n, self._net.layer_type(i), self._net.layer_params(i))
            for i, n in enumerate(names)
        ]
        self.params = OrderedDict((lv.name, lv.blobs) for lv in self.layers if lv.blobs)
        self.bottom_names = OrderedDict((n, self._net.bottom_names(i)) for i, n in enumerate(names))
        self.top_names = OrderedDict((n, self._net.top_names(i)) for i, n in enumerate(names))
        self.inputs = [
            t for lv in self.layers if lv.type == "Input" for t in self.top_names[lv.name]
        ]
        self.outputs = self._net.output_names()

    @property
    def name(self):
        return self._net.name

    @property
    def phase(self):
        return self._net.phase

    def _index(self, layer, default):
        if layer is None:
            return default
        if layer not in self.top_names:
            raise KeyError(f"no layer {layer!r} in net {self.name!r}")
        return self._layer_names.index(layer)

    def reshape(self):
        """Infer every shape again from the inputs (forward does it after a blob.reshape)."""
        self._net.reshape()

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """Run layers start..end (names; default all) after copying the given inputs in.

        Returns {name: blob.data} for the net's outputs (or end's tops) and the named `blobs`.
        """
        for name, value in kwargs.items():
            if name not in self.blobs:
                raise KeyError(f"forward: no blob {name!r} in net {self.name!r}")
            array = np.asarray(value, dtype=np.float32)
            blob = self.blobs[name]
            if blob.shape != array.shape:
                blob.reshape(array.shape)
            blob.data[...] = array
        if self._net.needs_reshape:
            self._net.reshape()
        first = self._index(start, 0)
        last = self._index(end, len(self._layer_names) - 1)
        outputs = set(self.outputs if end is None else self.top_names[end]) | set(blobs or [])
        self._net.forward_range(first, last)
        return {o: self.blobs[o].data for o in outputs}

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """Run the backward pass from start down to end (default: the whole net).

        Keyword arguments set top diffs first. Parameter diffs accumulate, as in Caffe's
        Net::Backward (clear_param_diffs() zeroes them). Returns {name: blob.diff} for the
        inputs and the named `diffs`.
        """
        for name, value in kwargs.items():
            if name not in self.blobs:
                raise KeyError(f"backward: no blob {name!r} in net {self.name!r}")
            self.blobs[name].diff[...] = np.asarray(value, dtype=np.float32)
        first = self._index(start, len(self._layer_names) - 1)
        last = self._index(end, 0)
        self._net.backward_range(first, last)
        return {d: self.blobs[d].diff for d in set(self.inputs) | set(diffs or [])}

    def clear_param_diffs(self):
        self._net.clear_param_diffs()

    def copy_from(self, path):
        """Copy the weights of the layers named alike from a .caffemodel; says what it copied."""
        return self._net.copy_from(str(path))

    def save(self, path):
        """Write the weights as a .caffemodel (atomically)."""
        self._net.save(str(path))

    def __repr__(self):
        return f"<crema.Net {self.name!r}, {len(self._layer_names)} layers>"


def _positional(args, weights, phase):
    """pycaffe's Net(model, phase) and Net(model, weights, phase), and the keyword form."""
    if len(args) > 2:
        raise TypeError("Net(model, weights=None, phase=TEST): too many arguments")
    if len(args) == 1:
        if _is_phase(args[0]):
            phase = args[0] if phase is None else phase
        else:
            weights = args[0] if weights is None else weights
    elif len(args) == 2:
        weights, phase = args
    phase = TEST if phase is None else phase
    if not _is_phase(phase):
        raise ValueError(f"phase must be crema.TRAIN or crema.TEST, got {phase!r}")
    return weights, phase
