// SPDX-License-Identifier: BSD-2-Clause
// _crema: the compiled half of `import crema`; python/crema/ adds pycaffe's names on top.
#include "bindings.hpp"

PYBIND11_MODULE(_crema, m) {
  m.doc() = "crema's nets, blobs and solvers (the compiled part of the crema package)";
  crema::python::bind_runtime(m);
  crema::python::bind_blob(m);
  crema::python::bind_net(m);
  crema::python::bind_solver(m);
}
