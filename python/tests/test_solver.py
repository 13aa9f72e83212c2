# SPDX-License-Identifier: BSD-2-Clause
"""Solvers from Python: the same weights as `crema train` on the same seed; snapshot/restore."""

import crema
import numpy as np
import pytest
from conftest import TINY_TRAIN_NET, run_crema, write


def solver_file(folder, prefix, solver_type="SGD", max_iter=12):
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "train.prototxt", TINY_TRAIN_NET)
    momentum = "momentum: 0.9" if solver_type in ("SGD", "Nesterov", "Adam") else ""
    return write(
        folder / "solver.prototxt",
        f'net: "{folder / "train.prototxt"}"\ntype: "{solver_type}"\nbase_lr: 0.05\n'
        f'{momentum}\nweight_decay: 0.001\nlr_policy: "step"\ngamma: 0.5\nstepsize: 5\n'
        f'max_iter: {max_iter}\nrandom_seed: 7\nsnapshot_prefix: "{folder / prefix}"\n'
        "display: 0\nsolver_mode: CPU\n",
    )


def params_of(model, weights):
    net = crema.Net(str(model), str(weights), crema.TEST)
    return {k: [b.data.copy() for b in v] for k, v in net.params.items()}


@pytest.mark.parametrize("solver_type", ["SGD", "Adam"])
def test_stepping_from_python_equals_crema_train(tmp_path, solver_type):
    cli = solver_file(tmp_path / "cli", "run", solver_type)
    run_crema("train", "-solver", cli, "-threads", 1)
    py = solver_file(tmp_path / "py", "run", solver_type)
    solver = crema.get_solver(str(py))
    assert solver.type == solver_type
    solver.step(5)
    solver.step(7)
    assert solver.iter == 12
    weights = solver.snapshot()
    assert weights.endswith("run_iter_12.caffemodel")
    model = tmp_path / "cli" / "train.prototxt"
    ours, theirs = (
        params_of(model, weights),
        params_of(model, tmp_path / "cli" / "run_iter_12.caffemodel"),
    )
    assert list(ours) == ["fc1", "fc2"]
    for name in ours:
        for a, b in zip(ours[name], theirs[name]):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_restore_continues_as_if_never_stopped(tmp_path):
    whole = crema.SGDSolver(str(solver_file(tmp_path / "whole", "w", max_iter=10)))
    assert whole.solve() is True and whole.iter == 10
    half = crema.SGDSolver(str(solver_file(tmp_path / "half", "h", max_iter=10)))
    half.step(4)
    state = half.snapshot().replace(".caffemodel", ".solverstate")
    resumed = crema.SGDSolver(str(solver_file(tmp_path / "half", "h", max_iter=10)))
    resumed.solve(state)
    assert resumed.iter == 10
    for name, blobs in whole.net.params.items():
        for a, b in zip(blobs, resumed.net.params[name]):
            np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_solver_classes_and_nets(tmp_path):
    path = str(solver_file(tmp_path, "s", "SGD"))
    for cls, name in [
        (crema.NesterovSolver, "Nesterov"),
        (crema.AdaGradSolver, "AdaGrad"),
        (crema.RMSPropSolver, "RMSProp"),
        (crema.AdaDeltaSolver, "AdaDelta"),
        (crema.AdamSolver, "Adam"),
    ]:
        if name in ("AdaGrad", "RMSProp"):
            path = str(solver_file(tmp_path / name, "s", name))  # they refuse momentum
        assert cls(path).type == name
    solver = crema.SGDSolver(str(solver_file(tmp_path / "n", "s")))
    assert solver.test_nets == [] and solver.net.phase == crema.TRAIN
    before = solver.net.params["fc1"][0].data.copy()
    solver.step(1)
    assert not np.array_equal(before, solver.net.params["fc1"][0].data)
    # The solver's net is the one it trains: a write through it is what the next step starts from.
    solver.net.params["fc1"][0].data[...] = 0
    solver.net.params["fc1"][1].data[...] = 0
    solver.net.forward()
    assert (solver.net.blobs["h"].data == 0).all()
