// SPDX-License-Identifier: BSD-2-Clause
// _crema.Solver: crema's training loop driven from Python (pycaffe's SGDSolver and its siblings
// are named in crema/solver.py). The run mode (set_mode_cpu/gpu) decides where it trains, as in
// pycaffe; the solver file's solver_mode is overridden.
#include <optional>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/update_rules.hpp"

namespace py = pybind11;

namespace crema::python {

namespace {

std::shared_ptr<SolverHandle> make_solver(const std::string& path,
                                          const std::optional<std::string>& type) {
  pb::SolverParameter param = read_solver_file(path);
  if (type) param.set_type(*type);
  param.set_solver_mode(run_mode().gpu ? pb::SolverParameter::GPU : pb::SolverParameter::CPU);
  param.set_device_id(run_mode().device);
  SolverOptions options;
  options.solver_path = path;
  auto h = std::make_shared<SolverHandle>();
  h->solver = std::make_shared<Solver>(param, options);
  h->net = std::make_shared<NetHandle>();
  h->net->net = std::shared_ptr<Net>(h->solver, &h->solver->net());
  for (int i = 0; i < h->solver->num_test_nets(); ++i) {
    h->test_nets.push_back(std::make_shared<NetHandle>());
    h->test_nets.back()->net = std::shared_ptr<Net>(h->solver, &h->solver->test_net(i));
  }
  return h;
}

void reshape_if_needed(SolverHandle& h) {
  if (h.net->needs_reshape) h.net->net->reshape(), h.net->needs_reshape = false;
  for (auto& t : h.test_nets)
    if (t->needs_reshape) t->net->reshape(), t->needs_reshape = false;
}

}  // namespace

void bind_solver(py::module_& m) {
  using H = std::shared_ptr<SolverHandle>;
  py::class_<SolverHandle, H>(m, "_Solver")
      .def(py::init(&make_solver), py::arg("path"), py::arg("type") = py::none(),
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("net", [](const H& h) { return h->net; })
      .def_property_readonly("test_nets", [](const H& h) { return h->test_nets; })
      .def_property_readonly("iter", [](const H& h) { return h->solver->iter(); })
      .def_property_readonly("type", [](const H& h) { return h->solver->param().type(); })
      .def_property_readonly("smoothed_loss", [](const H& h) { return h->solver->smoothed_loss(); })
      .def(
          "step",
          [](const H& h, int iters) {
            if (iters < 0) throw std::invalid_argument("step: iterations must be 0 or more");
            reshape_if_needed(*h);
            h->solver->step(iters);
          },
          py::arg("iters"), py::call_guard<py::gil_scoped_release>())
      .def(
          "solve",
          [](const H& h) {
            reshape_if_needed(*h);
            return h->solver->solve();
          },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "test_all", [](const H& h) { return h->solver->test_all(); },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "snapshot", [](const H& h) { return h->solver->snapshot(); },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "restore", [](const H& h, const std::string& state) { h->solver->restore(state); },
          py::arg("solverstate"), py::call_guard<py::gil_scoped_release>())
      .def(
          "load_weights", [](const H& h, const std::string& w) { h->solver->load_weights(w); },
          py::arg("weights"), py::call_guard<py::gil_scoped_release>());
  m.def("solver_types", &solver_type_names);
}

}  // namespace crema::python
