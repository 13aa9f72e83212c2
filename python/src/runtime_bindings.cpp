// SPDX-License-Identifier: BSD-2-Clause
// Process-wide settings: CPU or GPU mode and device, threads, where plugins are searched, and
// crema's own error type as a Python exception.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace py = pybind11;

namespace crema::python {

RunMode& run_mode() {
  static RunMode mode;
  return mode;
}

void bind_runtime(py::module_& m) {
  // A prototxt that does not parse: RuntimeError's subclass, "file:line:column: message".
  py::register_exception<ParseError>(m, "ParseError", PyExc_RuntimeError);
  m.def(
      "set_mode_cpu", [] { run_mode().gpu = false; },
      "Nets and solvers made from now on run on the CPU.");
  m.def(
      "set_mode_gpu",
      [] {
        if (device::count() == 0)
          throw std::runtime_error("set_mode_gpu: " + device::unavailable_reason());
        device::select(run_mode().device);
        run_mode().gpu = true;
      },
      "Nets and solvers made from now on run on the GPU chosen by set_device (default 0).");
  m.def(
      "set_device",
      [](int id) {
        if (device::count() == 0)
          throw std::runtime_error("set_device(" + std::to_string(id) +
                                   "): " + device::unavailable_reason());
        device::select(id);  // throws naming the devices there are
        run_mode().device = id;
      },
      py::arg("device_id"));
  m.def("mode", [] { return run_mode().gpu ? "GPU" : "CPU"; });
  m.def("device_count", [] { return device::count(); });
  m.def("built_with_cuda", [] { return device::built_with_cuda(); });
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 0) throw std::invalid_argument("set_num_threads: give 0 (the default) or more");
        set_num_threads(n);
      },
      py::arg("n"),
      "Threads for OpenBLAS and crema's layers; 0: CREMA_NUM_THREADS, else all cores.");
  m.def("num_threads", [] { return num_threads(); });
  m.def(
      "add_plugin_dir", [](const std::string& dir) { Registry::global().add_search_dir(dir); },
      py::arg("directory"), "Search this directory for layer plugins too (crema's -plugin_dir).");
  m.def("plugin_dirs", [] { return Registry::global().search_dirs(); });
  m.def("layer_types", [] { return Registry::global().types(); });
}

}  // namespace crema::python
