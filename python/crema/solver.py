# SPDX-License-Identifier: BSD-2-Clause
"""pycaffe's solvers: get_solver(path) by the file's type, SGDSolver(path) and its siblings."""

from . import _crema
from .net import Net


class Solver:
    """crema's training loop on a solver prototxt; the run mode says where it trains."""

    _type = None  # the update rule a named subclass forces (pycaffe's SGDSolver, ...)

    def __init__(self, path):
        self._solver = _crema._Solver(str(path), self._type)
        self.net = Net(None, _handle=self._solver.net)
        self.test_nets = [Net(None, _handle=h) for h in self._solver.test_nets]

    @property
    def iter(self):
        return self._solver.iter

    @property
    def type(self):
        return self._solver.type

    @property
    def smoothed_loss(self):
        return self._solver.smoothed_loss

    def step(self, iters):
        """Train `iters` iterations (tests, displays and snapshots as the solver file says)."""
        self._solver.step(int(iters))

    def solve(self, resume_file=None):
        """Train to max_iter, from resume_file (a .solverstate) if given; False if stopped."""
        if resume_file is not None:
            self.restore(resume_file)
        return self._solver.solve()

    def test_all(self):
        """Score the test nets; returns the first one's outputs as (name, mean) pairs."""
        return self._solver.test_all()

    def snapshot(self):
        """Write <prefix>_iter_N.caffemodel and .solverstate; returns the weights' path."""
        return self._solver.snapshot()

    def restore(self, path):
        self._solver.restore(str(path))

    def load_weights(self, paths):
        """Initialise from weights (comma-separated .caffemodel paths), for fine-tuning."""
        self._solver.load_weights(str(paths))


def get_solver(path):
    """The solver the file's `type` names (SGD by default)."""
    return Solver(path)


def _named(type_name):
    return type(f"{type_name}Solver", (Solver,), {"_type": type_name})


SGDSolver = _named("SGD")
NesterovSolver = _named("Nesterov")
AdaGradSolver = _named("AdaGrad")
RMSPropSolver = _named("RMSProp")
AdaDeltaSolver = _named("AdaDelta")
AdamSolver = _named("Adam")
